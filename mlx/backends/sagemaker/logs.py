"""A training job's CloudWatch logs: every node's stream, merged by time, followed cheaply.

SageMaker writes one stream per node, ``<job>/algo-<N>-<epoch>``, to the group
``/aws/sagemaker/TrainingJobs``. One ``FilterLogEvents`` call with
``logStreamNamePrefix="<job>/"`` reads all of them interleaved by time, so a poll costs one
call (plus pages) whatever the node count — not one ``GetLogEvents`` per stream.

Following is ``mlx.cloud.follow``'s, and it shows each event as soon as a poll sees it.
Nothing is lost by not holding young events back: CloudWatch makes an event searchable
some time after ``PutLogEvents`` accepted it, so an event can become visible after events
stamped later by other nodes (FilterLogEvents sorts by event timestamp, then ingestion
time, and answers what is searchable when it is asked: https://docs.aws.amazon.com/
AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html; each event carries both
its ``timestamp`` and its ``ingestionTime``: .../API_FilteredLogEvent.html), so each poll
starts ``Pacing.log_overlap`` (30) seconds before the previous poll began — the look-back:
an event that was not visible yet then is stamped after that, unless it took longer than
the look-back to become searchable — and drops the events it printed already by
``eventId``. A late event is printed when it becomes visible, out of time order, once.
The poll interval grows while the job is quiet.

FilterLogEvents is limited to 5 transactions per second per account and Region, a hard
quota ("How do I determine throttling in my CloudWatch logs?",
https://repost.aws/knowledge-center/cloudwatch-logs-throttling): a follower polls once a
second (one call per poll and page, whatever the node count), a fifth of it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from typing import Any, Optional

from mlx.backends.sagemaker.clients import aws_errors, error_code
from mlx.cloud.follow import Entry, WindowSource
from mlx.model import LogLine

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_NODE = re.compile(r"/algo-(\d+)-")
Event = dict[str, Any]


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


class CloudWatchReader(WindowSource):
    """One job's streams (``prefix``) through ``client`` (a boto3 logs client), for
    ``mlx.cloud.follow``: an idle follower slows down (FilterLogEvents is rate-limited
    per account)."""

    slow_when_idle = True

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def read(
        self,
        start: float,
        end: Optional[float] = None,
        *,
        final: bool = False,
        paged: bool = False,
    ) -> Iterator[Entry]:
        for page in self.pages(math.floor(start * 1000), _ms(end)):
            for event in page:
                line = to_line(event)
                yield Entry(event["eventId"], line.time, (line,))

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


def _ms(when: Optional[float]) -> Optional[int]:
    return None if when is None else math.floor(when * 1000)
