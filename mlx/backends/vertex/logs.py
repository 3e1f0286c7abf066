"""Logs from Cloud Logging: one filter for every replica, polled while the job runs.

Vertex writes each replica's output as entries of resource ``ml_job`` labelled with the
job's numeric id and the replica (``resource.labels.task_name``: ``workerpool0-0``,
``workerpool1-0``, ...); tuning trials add ``labels."ml.googleapis.com/trial_id"``. The text
is ``textPayload`` or ``jsonPayload.message``.

Every request carries both timestamp bounds: without them the client libraries add a
24-hour one silently, and an unbounded filter scans the whole retention period.
Following polls ``ListLogEntries`` (60 reads a minute per project, so every
``poll_seconds``, not faster) over a window that overlaps the previous one by ``overlap``
seconds, since an entry can be indexed a few seconds after its timestamp; entries already
shown are skipped by ``insertId``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

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


@dataclass
class Poller:
    """Reads one job's lines through ``list_entries(request) -> iterable of LogEntry``."""

    list_entries: Callable[[dict[str, Any]], Any]
    source: Source
    query: LogQuery
    poll_seconds: float = 5.0
    overlap: float = 10.0
    drain_seconds: float = 5.0  # after the job ended, one more read this much later

    def history(self, end: float) -> list[LogLine]:
        """Lines up to ``end`` (the last ``query.tail`` of them, if set)."""
        return self._trim(self._lines(self._initial(end)))

    def follow(self, ended: Callable[[], bool]) -> Iterator[LogLine]:
        """History, then new lines until ``ended()``, then one last read (after
        ``drain_seconds``: the job's last lines may be indexed after it ended)."""
        seen: dict[str, float] = {}
        watermark = time.time()
        first = self._initial(watermark)
        self._mark(first, seen)
        yield from self._trim(self._lines(first))
        last = False
        while not last:
            last = ended()
            time.sleep(self.drain_seconds if last else self.poll_seconds)
            now = time.time()
            fresh = [e for e in self._fetch(watermark - self.overlap, now) if _key(e) not in seen]
            self._mark(fresh, seen)
            yield from self._lines(fresh)
            _forget(seen, watermark - 2 * self.overlap)
            watermark = now

    def _initial(self, end: float) -> list[Any]:
        if self.query.tail is None:
            return self._fetch(self.start(), end)
        newest = self._fetch(self.start(), end, order="timestamp desc", limit=self.query.tail)
        return list(reversed(newest))

    def _trim(self, lines: list[LogLine]) -> list[LogLine]:
        tail = self.query.tail
        return lines if tail is None else (lines[-tail:] if tail else [])

    def start(self) -> float:
        skew = 300.0
        return self.query.since if self.query.since is not None else self.source.created_at - skew

    def _fetch(
        self, start: float, end: float, order: str = "timestamp asc", limit: Optional[int] = None
    ) -> list[Any]:
        request = {
            "resource_names": [f"projects/{self.source.project}"],
            "filter": build_filter(self.source, self.query, start, end),
            "order_by": order,
            "page_size": min(limit or PAGE_SIZE, PAGE_SIZE),
        }
        entries = []
        for entry in self.list_entries(request):
            entries.append(entry)
            if limit is not None and len(entries) >= limit:
                break
        return entries

    def _lines(self, entries: list[Any]) -> list[LogLine]:
        return [line for entry in entries for line in entry_lines(entry)]

    @staticmethod
    def _mark(entries: list[Any], seen: dict[str, float]) -> None:
        for entry in entries:
            seen[_key(entry)] = entry.timestamp.timestamp()


def _key(entry: Any) -> str:
    return entry.insert_id or f"{entry.timestamp}/{entry.resource.labels}/{entry.text_payload}"


def _forget(seen: dict[str, float], before: float) -> None:
    for key in [k for k, t in seen.items() if t < before]:
        del seen[key]


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
