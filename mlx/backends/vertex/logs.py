"""Logs from Cloud Logging: one filter for every replica, polled while the job runs.

Vertex writes each replica's output as entries of resource ``ml_job`` labelled with the
job's numeric id and the replica (``resource.labels.task_name``: ``workerpool0-0``,
``workerpool1-0``, ...). The text is ``textPayload`` or ``jsonPayload.message``.

A tuning job's trials log under the tuning job's own id, not under the CustomJob each trial
also gets (``Trial.custom_job``): ``gcloud ai hp-tuning-jobs stream-logs`` reads a tuning
job's logs with exactly ``resource.type="ml_job" AND resource.labels.job_id="<the
HyperparameterTuningJob's id>"`` (google-cloud-sdk, surface/ai/hp_tuning_jobs/stream_logs.py
-> command_lib/ai/log_util.py ``_LogFilters``); each entry names its trial in the label
``ml.googleapis.com/trial_id``, which gcloud's log formatter reads
(command_lib/ml_engine/log_utils.py ``_GetLabelAttributes``). So one trial is that filter
plus ``labels."ml.googleapis.com/trial_id"="<trial id>"``.

Every request carries both timestamp bounds: without them the client libraries add a
24-hour one silently, and an unbounded filter scans the whole retention period.
Following is ``mlx.cloud.follow``'s, with one filter for every replica: each poll asks for
``timestamp >= `` the newest entry shown (``log_overlap`` is 0) and skips the entries at
that timestamp it showed already by ``insertId`` — gcloud's own log streaming keeps the
same position, a timestamp and the insert ids at it (google-cloud-sdk,
command_lib/logs/stream.py ``LogPosition``) — so a poll pages only through what is new;
a poll with more than a page to read goes on with a new query from the page's newest entry
(``CloudLoggingReader.read``).
Each request (each page) is taken from the project's read quota, ``entries.list``: 60
requests a minute per project (https://cloud.google.com/logging/quotas#api-limits), shared
with the other followers of this machine (``mlx.cloud.budget``): one follower polls about
once a second, three every three seconds, and a poll that needs two pages waits twice as
long. Pages are printed as they arrive; nothing collects a whole history. After the job
ended, one last read ``log_drain`` seconds later gets its last lines.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from mlx.cloud.budget import Budget
from mlx.cloud.follow import Entry, WindowSource
from mlx.model import LogLine, LogQuery

PAGE_SIZE = 1000  # the API's maximum
TRIAL_LABEL = 'labels."ml.googleapis.com/trial_id"'
_TASK_RE = re.compile(r"^workerpool(\d+)-(\d+)$")
# Cloud Logging's `=~` is RE2: no lookaround or backreferences. Such patterns stay local.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9]")


@dataclass(frozen=True)
class Source:
    """Whose entries to read: a job (its numeric id), maybe one trial, since when."""

    project: str
    job_id: str
    trial: Optional[str] = None
    created_at: float = 0.0  # no entry of the job is older (less clock skew)


# One ListLogEntries request -> (its entries, the next page's token or "").
ListPage = Callable[[dict[str, Any]], tuple[Sequence[Any], str]]


class CloudLoggingReader(WindowSource):
    """One job's entries through ``list_page``, for ``mlx.cloud.follow``; every request
    carries both time bounds, and is first taken from ``budget`` (the project's read
    quota shared by this machine's followers) when there is one."""

    def __init__(
        self,
        list_page: ListPage,
        source: Source,
        query: LogQuery,
        budget: Optional[Budget] = None,
    ) -> None:
        self.list_page = list_page
        self.source = source
        self.query = query
        self.budget = budget

    def read(
        self,
        start: float,
        end: Optional[float] = None,
        *,
        final: bool = False,
        paged: bool = False,
    ) -> Iterator[Entry]:
        """``paged`` (following): one page, unless it did not get past ``start`` (a new
        query would return it again; its token is followed). The next read is a new query
        from the newest entry shown up to that moment, not this query's next page: the
        token's query ends where it began, so a poll that needed two pages would make
        every later poll need two (two turns of the quota each: seconds of lag at 64
        replicas), while a new query also takes in what arrived meanwhile."""
        self.behind = False
        for page, token in self._pages(start, end):
            newest = start
            for entry in map(_entry, page):
                newest = max(newest, entry.time)
                yield entry
            if paged and token and newest > start:
                self.behind = True
                return

    def newest(self, count: int, start: float, window: float) -> list[Entry]:
        """Newest first, in as few requests as ``count`` needs: Cloud Logging sorts and
        limits on its side."""
        found: list[Any] = []
        for page, _ in self._pages(start, order="timestamp desc", limit=count):
            found.extend(list(page)[: count - len(found)])  # a proto slice is not marshalled
            if len(found) >= count:
                break
        return [_entry(entry) for entry in reversed(found)]

    def _pages(
        self,
        start: float,
        end: Optional[float] = None,
        order: str = "timestamp asc",
        limit: Optional[int] = None,
    ) -> Iterator[tuple[Sequence[Any], str]]:
        """The pages of one query (``end`` None: up to now) with their next page's token,
        each requested only once the previous one was used."""
        self._take()  # first: "now" is when the quota lets the request go, not before
        bound = time.time() if end is None else end
        request = {
            "resource_names": [f"projects/{self.source.project}"],
            "filter": build_filter(self.source, self.query, start, bound),
            "order_by": order,
            "page_size": min(limit or PAGE_SIZE, PAGE_SIZE),
            "page_token": "",
        }
        while True:
            entries, token = self.list_page(request)
            yield entries, token
            if not token:
                return
            request["page_token"] = token
            self._take()

    def _take(self) -> None:
        if self.budget is not None:
            self.budget.take()


def first_time(source: Source, query: LogQuery) -> float:
    """Where reading starts: ``--since``, or a little before the job was created (the
    nodes' clocks may be behind)."""
    skew = 300.0
    return query.since if query.since is not None else source.created_at - skew


def _entry(entry: Any) -> Entry:
    return Entry(_key(entry), entry.timestamp.timestamp(), entry_lines(entry))


def _key(entry: Any) -> str:
    return entry.insert_id or f"{entry.timestamp}/{entry.resource.labels}/{entry.text_payload}"


def build_filter(source: Source, query: LogQuery, start: float, end: float) -> str:
    """One filter for all replicas: the job, the time window, and what can be pushed down."""
    parts = [
        'resource.type="ml_job"',
        f'resource.labels.job_id="{source.job_id}"',
        f'timestamp>="{rfc3339(start)}"',
        f'timestamp<="{rfc3339(end)}"',
    ]
    if source.trial is not None:
        parts.append(f'{TRIAL_LABEL}="{source.trial}"')
    if query.node is not None:
        parts.append(f'resource.labels.task_name="{task_name(query.node)}"')
    pattern = grep_filter(query.grep)
    if pattern:
        parts.append(pattern)
    return " AND ".join(parts)


def grep_filter(pattern: Optional[str]) -> Optional[str]:
    """``--grep`` as a server-side regex where RE2 reads it as Python does; mlx still
    applies the pattern itself, so a pattern left out here only costs bandwidth."""
    if not pattern or _NOT_RE2.search(pattern):
        return None
    quoted = '"' + pattern.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"(textPayload=~{quoted} OR jsonPayload.message=~{quoted})"


def rfc3339(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def task_name(node: int) -> str:
    """Node 0 is pool 0's one replica; node k+1 is pool 1's replica k."""
    return "workerpool0-0" if node == 0 else f"workerpool1-{node - 1}"


def node_of(task: str) -> Optional[int]:
    """The inverse of ``task_name``; None for a task mlx did not start."""
    match = _TASK_RE.match(task or "")
    if not match:
        return None
    pool, index = int(match.group(1)), int(match.group(2))
    return index if pool == 0 else (1 + index if pool == 1 else None)


def entry_lines(entry: Any) -> list[LogLine]:
    """An entry's text as lines, numbered by node (``[node-N]`` when nodes > 1)."""
    text = entry.text_payload
    if not text and "json_payload" in entry:
        text = str(entry.json_payload.get("message", ""))
    node = node_of(entry.resource.labels.get("task_name", ""))
    when = entry.timestamp.timestamp()
    return [LogLine(when, line, 0 if node is None else node) for line in text.splitlines() or [""]]
