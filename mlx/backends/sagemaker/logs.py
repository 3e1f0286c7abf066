"""A training job's CloudWatch logs: every node's stream, merged by time, followed cheaply.

SageMaker writes one stream per node, ``<job>/algo-<N>-<epoch>``, to the group
``/aws/sagemaker/TrainingJobs``. One ``FilterLogEvents`` call with
``logStreamNamePrefix="<job>/"`` reads all of them interleaved by time, so a poll costs one
call (plus pages) whatever the node count — not one ``GetLogEvents`` per stream.

Following: CloudWatch may make an event visible after later ones (ingestion is not ordered
across streams, and clocks differ), so each poll re-reads from a little before what was
printed (``overlap``) and drops events already printed by ``eventId``; events newer than
``hold`` seconds wait for the next poll, so a line is printed late rather than never. The
poll interval is ``poll`` while lines arrive and grows to ``max_poll`` when idle. Following
ends once the job is terminal and a final read finds nothing new.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional

from mlx.backends.sagemaker.clients import aws_errors, error_code
from mlx.model import LogLine, LogQuery

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_NODE = re.compile(r"/algo-(\d+)-")
Event = dict[str, Any]


@dataclass
class Timing:
    """Follow cadence, in seconds (tests shorten them)."""

    poll: float = 2.0
    max_poll: float = 10.0
    hold: float = 2.0
    overlap: float = 30.0
    tail_window: float = 60.0  # the first window --tail looks back over; then x4 each time


def stream_prefix(job_name: str, node: Optional[int] = None) -> str:
    """All of a job's streams, or node ``node``'s (algo-<node+1>) only."""
    return f"{job_name}/" if node is None else f"{job_name}/algo-{node + 1}-"


@functools.lru_cache(maxsize=4096)
def node_of(stream: str) -> int:
    """``<job>/algo-3-1700000000`` -> 2 (nodes count from 0)."""
    match = _NODE.search(stream)
    return int(match.group(1)) - 1 if match else 0


def to_line(event: Event) -> LogLine:
    text = event["message"].rstrip("\r\n")
    return LogLine(event["timestamp"] / 1000.0, text, node_of(event.get("logStreamName", "")))


def parse_events_quickly(client: Any) -> Any:
    """Parse ``client``'s FilterLogEvents answers with ``json.loads``.

    botocore's generic response parser costs about 13 µs per event (five fields each), more
    than everything else mlx does with a line; the answer's shape holds only strings and
    integers, which JSON gives as they are. Uses botocore's ``before-parse`` hook: what the
    handler puts in ``customized_response_dict`` is merged into the parsed answer.
    """
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(
        f"before-parse.{service}.FilterLogEvents", _raw_json, unique_id="mlx-raw-json"
    )
    return client


def _raw_json(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any):
    if response_dict.get("status_code") != 200:
        return  # errors go through botocore's parser, which knows their shapes
    customized_response_dict.update(json.loads(response_dict["body"]))
    response_dict["body"] = b"{}"


class CloudWatchReader:
    """Reads one job's streams (``prefix``) through ``client`` (a boto3 logs client)."""

    def __init__(self, client: Any, prefix: str, timing: Optional[Timing] = None) -> None:
        self.client = client
        self.prefix = prefix
        self.timing = timing or Timing()
        self.calls = 0

    def lines(self, query: LogQuery, ended: Callable[[], bool], lower: float) -> Iterator[LogLine]:
        """What ``query`` asks for; ``lower``: no line is older (the job's creation)."""
        start = int((query.since if query.since is not None else lower) * 1000)
        if query.tail is not None:
            history: Iterable[Event] = self.tail(query.tail, start)
        elif not query.follow:
            history = self.scan(start)
        else:
            history = []
        if not query.follow:
            yield from map(to_line, history)
            return
        yield from self.follow(start, ended, list(history))

    # -- one pass ----------------------------------------------------------------------

    def pages(self, start_ms: int, end_ms: Optional[int] = None) -> Iterator[list[Event]]:
        """FilterLogEvents pages over [start_ms, end_ms], interleaved by time."""
        from botocore.exceptions import ClientError

        request: dict[str, Any] = {
            "logGroupName": LOG_GROUP,
            "logStreamNamePrefix": self.prefix,
            "startTime": max(0, start_ms),
        }
        if end_ms is not None:
            request["endTime"] = end_ms
        while True:
            self.calls += 1
            with aws_errors("reading the job's logs (CloudWatch FilterLogEvents)"):
                try:
                    page = self.client.filter_log_events(**request)
                except ClientError as e:
                    if error_code(e) == "ResourceNotFoundException":
                        return  # no job has logged in this region yet
                    raise
            yield page.get("events", [])
            if not page.get("nextToken"):
                return
            request["nextToken"] = page["nextToken"]

    def scan(self, start_ms: int, end_ms: Optional[int] = None) -> Iterator[Event]:
        for page in self.pages(start_ms, end_ms):
            yield from page

    def tail(self, count: int, lower_ms: int) -> list[Event]:
        """The last ``count`` events, reading windows backwards from now (x4 each step)
        instead of the whole log."""
        if count == 0:
            return []
        end = int((time.time() + 300) * 1000)  # a little ahead: clocks differ
        span = int(self.timing.tail_window * 1000)
        found: list[Event] = []
        while True:
            start = max(lower_ms, end - span)
            found = list(self.scan(start, end)) + found
            if len(found) >= count or start <= lower_ms:
                return found[-count:]
            end, span = start - 1, span * 4

    # -- following ---------------------------------------------------------------------

    def follow(
        self, start_ms: int, ended: Callable[[], bool], history: list[Event]
    ) -> Iterator[LogLine]:
        printed: dict[str, int] = {e["eventId"]: e["timestamp"] for e in history}
        yield from map(to_line, history)
        cursor = max([start_ms, *printed.values()])
        delay, done = self.timing.poll, False
        while True:
            done = done or ended()  # asked before reading: a final read follows the end
            began = int(time.time() * 1000)
            fresh = self._poll(cursor, printed, final=done)
            yield from map(to_line, fresh)
            if done and not fresh:
                return
            if fresh:
                # Lines that were not visible yet when this read began can only be newer
                # than (its start - overlap): read again from there, or from the newest.
                newest = max(e["timestamp"] for e in fresh)
                late = began - int(self.timing.overlap * 1000)
                cursor = max(cursor, min(newest, late))
                _forget_before(printed, cursor)
            delay = self.timing.poll if fresh else min(delay * 1.5, self.timing.max_poll)
            if not done:
                time.sleep(delay)

    def _poll(self, cursor: int, printed: dict[str, int], final: bool) -> list[Event]:
        """Events from ``cursor`` not printed yet and old enough (all of them when final)."""
        horizon = None if final else int((time.time() - self.timing.hold) * 1000)
        fresh = []
        for event in self.scan(cursor):
            if event["eventId"] in printed:
                continue
            if horizon is not None and event["timestamp"] > horizon:
                break  # time-ordered: the rest are newer still; read again next poll
            printed[event["eventId"]] = event["timestamp"]
            fresh.append(event)
        return fresh


def _forget_before(printed: dict[str, int], cursor: int) -> None:
    """Drop ids of events older than the next read's start: they cannot come back."""
    for event_id in [i for i, ts in printed.items() if ts < cursor]:
        del printed[event_id]
