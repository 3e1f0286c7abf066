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

import functools
import re
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

from mlx.backends.azure.layout import LOG_DIRS
from mlx.cloud.budget import Budget
from mlx.cloud.follow import Entry, WindowSource
from mlx.cloud.objects import ObjectInfo, ObjectStore
from mlx.logfiles import merge_by_time
from mlx.model import LogLine, LogQuery

FETCHERS = 8  # ranged GETs in flight at once
ROUND_BYTES = 2 << 20  # at most this much read per round (a long history: many rounds)
MIN_PART = 64 << 10  # the least one blob gets of a round
Place = tuple[int, Optional[int]]  # (node, process)
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

    A read lists the prefix once, skips the blobs whose size did not change, and fetches
    the grown ones in parallel, each with one ranged GET from its last offset, in rounds
    of at most ``ROUND_BYTES`` (a long history is printed round by round, in bounded
    memory). Every call is taken from ``budget`` first: the polls slow down as more ranks
    grow, so the calls per minute stay under one ceiling whatever the node count.
    """

    slow_when_idle = True  # a quiet job costs a listing every log_max_poll

    def __init__(
        self,
        store: ObjectStore,
        prefix: str,
        per_node: int,
        query: LogQuery,
        budget: Optional[Budget] = None,
    ) -> None:
        self.store, self.prefix, self.per_node = store, prefix, per_node
        self.query = query
        self.budget = budget
        self._offsets: dict[str, int] = {}
        self._partial: dict[str, bytes] = {}
        self._dirs: tuple[str, ...] = LOG_DIRS
        self._first = True

    def read(
        self,
        start: float,
        end: Optional[float] = None,
        *,
        final: bool = False,
        paged: bool = False,
    ) -> Iterator[Entry]:
        """Lines appended since the last read, merged by time within each round; ``final``
        also returns a last line that has no newline."""
        first, self._first = self._first, False
        for lines in self._rounds(first=first, final=final):
            yield from (Entry(None, line.time, (line,)) for line in lines if self._wanted(line))

    def newest(self, count: int, start: float, window: float) -> list[Entry]:
        """The last ``count`` lines so far (the blobs hold no index by time), kept in a
        bounded queue while everything is read."""
        return list(deque(self.read(start), maxlen=max(count, 1)))

    def _wanted(self, line: LogLine) -> bool:
        if self.query.since is not None and line.time < self.query.since:
            return False
        return self.query.node is None or line.node == self.query.node

    def _rounds(self, *, first: bool, final: bool) -> Iterator[list[LogLine]]:
        """One listing, then rounds of ranged GETs until every grown blob is read up to
        the size the listing gave; ``final``: then the lines that have no newline."""
        now = time.time()
        self._spend(1)
        blobs = self._blobs()

        def lines(blob: ObjectInfo, where: Place, texts: list[str]) -> list[LogLine]:
            stamp = blob.modified if first and blob.modified else now
            return [LogLine(stamp, text, *where) for text in texts]

        while True:
            due = [(b, where) for b, where in blobs if b.size != self._offsets.get(b.key, 0)]
            if not due:
                break
            share = max(MIN_PART, ROUND_BYTES // len(due))
            self._spend(len(due))
            texts = _parallel(functools.partial(self._read_part, most=share), due)
            if first:  # the history: each blob's lines carry its time; merge them
                yield list(merge_by_time(lines(b, w, got) for (b, w), got in zip(due, texts)))
            else:  # all stamped now: in rank order, each blob's as soon as it is read
                for (b, w), got in zip(due, texts):
                    yield lines(b, w, got)
        if final:
            rests = [(b, w, self._partial.pop(b.key, b"")) for b, w in blobs]
            yield [
                line
                for b, w, rest in rests
                if rest
                for line in lines(b, w, [rest.decode("utf-8", "replace").rstrip("\r")])
            ]

    def _spend(self, calls: int) -> None:
        if self.budget is not None and calls:
            self.budget.take(calls)

    def _blobs(self) -> list[tuple[ObjectInfo, Place]]:
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

    def _read_part(self, blob: ObjectInfo, *, most: int) -> list[str]:
        return self._read_new(blob.key, blob.size, most)

    def _read_new(self, name: str, size: int, most: int) -> list[str]:
        """The complete lines in the next ``most`` bytes (at most) of blob ``name``."""
        offset = self._offsets.get(name, 0)
        if size < offset:  # rewritten from scratch: start over
            offset, self._partial[name] = 0, b""
        data = self.store.read_range(name, offset, min(size - offset, most))
        # Fewer bytes than listed (a blob cut short): what is missing is not read again.
        self._offsets[name] = offset + len(data) if data else size
        *complete, self._partial[name] = (self._partial.get(name, b"") + data).split(b"\n")
        return [raw.decode("utf-8", "replace").rstrip("\r") for raw in complete]


def _parallel(
    read: Callable[[ObjectInfo], list[str]],
    blobs: list[tuple[ObjectInfo, Place]],
) -> Iterator[list[str]]:
    """``read`` of each blob, ``FETCHERS`` at a time (one blob: no thread), in order, each
    as soon as it and those before it are read."""
    if len(blobs) <= 1:
        yield from (read(blob) for blob, _ in blobs)
        return
    with ThreadPoolExecutor(min(FETCHERS, len(blobs))) as pool:
        yield from pool.map(read, [blob for blob, _ in blobs])
