"""Logs of every node and process of an Azure ML job, read from the artifact store.

Azure ML writes one append blob per process, ``user_logs/std_log_process_<N>.txt`` (``N``
the global rank; ``std_log.txt`` for a single process; ``azureml-logs/70_driver_log_<N>.txt``
on older runtimes), under the run's ``ExperimentRun/dcid.<run id>/`` prefix. Its own
streaming shows rank 0 only; mlx lists the prefix once per poll (one call whatever the node
count), and reads only the bytes each blob gained since the last poll (a ranged GET from
the last offset), so following never downloads a file twice.

The lines carry no timestamps of their own: a line gets the time mlx first saw it (for the
history read at the start, its blob's last-modified time), and each file keeps its order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Optional

from mlx.backends.azure.layout import LOG_DIRS
from mlx.cloud.follow import Entry, WindowSource
from mlx.cloud.objects import ObjectInfo, ObjectStore
from mlx.logfiles import merge_by_time
from mlx.model import LogLine, LogQuery

_SINGLE = "user_logs/std_log.txt"
_PER_PROCESS = re.compile(
    r"^(?:user_logs/std_log_process_|azureml-logs/70_driver_log_?)(\d*)\.txt$"
)


def place(name: str, per_node: int) -> Optional[tuple[int, Optional[int]]]:
    """``(node, process)`` of a log blob (relative name); process None with one per node;
    None for blobs that are not a process's output (system logs, MPI logs)."""
    if name == _SINGLE:
        return 0, None
    match = _PER_PROCESS.match(name)
    if match is None:
        return None
    rank = int(match.group(1) or 0)
    if per_node > 1:
        return rank // per_node, rank % per_node
    return rank, None


class LogReader(WindowSource):
    """The new lines of one run's log blobs, read after read, for ``mlx.cloud.follow``.

    A read is "what the blobs gained since the last read", whatever its window: lines are
    never read twice, so they need no keys. ``--since`` and ``--node`` are applied here,
    to the lines' times and places.
    """

    def __init__(self, store: ObjectStore, prefix: str, per_node: int, query: LogQuery) -> None:
        self.store, self.prefix, self.per_node = store, prefix, per_node
        self.query = query
        self._offsets: dict[str, int] = {}
        self._partial: dict[str, bytes] = {}
        self._dirs: tuple[str, ...] = LOG_DIRS
        self._first = True

    def read(
        self, start: float, end: Optional[float] = None, *, final: bool = False
    ) -> Iterator[Entry]:
        """Lines appended since the last read, merged by time; ``final`` also returns a
        last line that has no newline."""
        lines = self._poll(first=self._first, final=final)
        self._first = False
        return (Entry(None, line.time, (line,)) for line in lines if self._wanted(line))

    def newest(self, count: int, start: float, window: float) -> list[Entry]:
        """Everything so far (the blobs hold no index by time); ``follow`` keeps the end."""
        return list(self.read(start))

    def _wanted(self, line: LogLine) -> bool:
        if self.query.since is not None and line.time < self.query.since:
            return False
        return self.query.node is None or line.node == self.query.node

    def _poll(self, *, first: bool, final: bool) -> list[LogLine]:
        now = time.time()
        batches = []
        for blob, where in self._blobs():
            stamp = blob.modified if first and blob.modified else now
            texts = self._read_new(blob.key, blob.size, final)
            batches.append([LogLine(stamp, text, *where) for text in texts])
        return list(merge_by_time(batches))

    def _blobs(self) -> list[tuple[ObjectInfo, tuple[int, Optional[int]]]]:
        """Process logs, in node and process order. The first layout found is kept: newer
        runtimes write ``user_logs``, older ones ``azureml-logs``."""
        for directory in self._dirs:
            listed = list(self.store.list(self.prefix + directory, label="log files"))
            placed = [(b, place(b.key[len(self.prefix) :], self.per_node)) for b in listed]
            found = [(b, where) for b, where in placed if where is not None]
            if found:
                self._dirs = (directory,)
                return sorted(found, key=lambda item: item[1][0] * 10_000 + (item[1][1] or 0))
        return []

    def _read_new(self, name: str, size: int, final: bool) -> list[str]:
        offset = self._offsets.get(name, 0)
        if size < offset:  # rewritten from scratch: start over
            offset, self._partial[name] = 0, b""
        data = b""
        if size > offset:
            data = self.store.read_range(name, offset, size - offset)
        self._offsets[name] = offset + len(data)
        *complete, rest = (self._partial.get(name, b"") + data).split(b"\n")
        if final and rest:
            complete, rest = [*complete, rest], b""
        self._partial[name] = rest
        return [raw.decode("utf-8", "replace").rstrip("\r") for raw in complete]
