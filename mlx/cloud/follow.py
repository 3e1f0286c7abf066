"""Following a job's logs: one loop for every cloud, over reads a provider implements.

A provider's log store answers "the entries stamped in [start, end]" (CloudWatch, Cloud
Logging) or "what was appended since the last read" (Azure's append blobs). Either way it
implements ``WindowSource.read``; this module owns everything around that:

- the first read: the history from ``start``, or the newest ``--tail`` lines;
- the poll loop, every ``Pacing.log_poll`` seconds (growing to ``log_max_poll`` while
  nothing arrives, where the source wants that); a source that reads in pages returns one
  page per read while following and says it is ``behind``, and the poll reads on at once
  (a new query from the newest line, which also takes in what arrived meanwhile);
- overlapping windows: an entry can become visible after newer ones (ingestion is not
  ordered across nodes, and clocks differ), so each read starts ``log_overlap`` seconds
  before the previous read began, or at the newest entry shown if that is older; entries
  already shown are dropped by key, and keys older than the next read's start forgotten
  (also during a long read, so a history of millions of lines keeps few keys). A late
  entry is therefore shown when it becomes visible, out of time order, never lost nor
  shown twice, as long as it is no later than the overlap: nothing is held back;
- the end: once ``ended()`` answers true, one last read after ``log_drain`` seconds
  returns what the job wrote last, held-back and incomplete lines included.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Hashable, Iterator, Sequence
from typing import Callable, ClassVar, NamedTuple, Optional

from mlx.cloud.pacing import Pacing
from mlx.model import LogLine, LogQuery

CLOCK_SKEW = 300.0  # seconds a node's clock may run ahead of this machine's
_PRUNE_EVERY = 10_000  # entries between two prunings of the keys during one read


class Entry(NamedTuple):
    """One native log entry (a tuple: sources make one per line shown, so it is cheap)."""

    key: Optional[Hashable]  # the same on every read; None: the source never repeats one
    time: float  # the entry's timestamp, seconds since the epoch; orders the reads
    lines: Sequence[LogLine]  # what it prints


class WindowSource(ABC):
    """A provider's log store, read by ``follow``. Sources keep only what is theirs: the
    API call, its filters (stream prefix, Cloud Logging filter, blob offsets) and turning a
    native entry into ``LogLine``\\s."""

    slow_when_idle: ClassVar[bool] = False  # poll less often while nothing arrives
    # Set by a ``paged`` read that stopped with more entries waiting: read again at once.
    behind: bool = False

    @abstractmethod
    def read(
        self,
        start: float,
        end: Optional[float] = None,
        *,
        final: bool = False,
        paged: bool = False,
    ) -> Iterator[Entry]:
        """Entries stamped in [start, end] (``end`` None: up to the newest), oldest first.

        Args:
            start: seconds since the epoch; the read may return older entries too.
            end: seconds since the epoch, inclusive.
            final: the read after the job ended: nothing follows it, so return what is
                still incomplete too (a last line without its newline).
            paged: a source that reads in pages may stop after one page that got past
                ``start``, setting ``behind``; ``follow`` then reads again from the newest
                entry shown. Other sources ignore it.
        """

    def newest(self, count: int, start: float, window: float) -> list[Entry]:
        """Entries holding at least the newest ``count`` lines since ``start``, oldest
        first (``follow`` keeps the last ``count`` lines of them).

        This default reads windows backwards from now, ``window`` seconds long and four
        times longer each step, instead of the whole log; it needs keys (adjacent windows
        share their boundary). Sources that can ask for the newest entries, or that cannot
        read a past window, override it.
        """
        end = time.time() + CLOCK_SKEW
        found: list[Entry] = []
        while True:
            low = max(start, end - window)
            found = _unique([*self.read(low, end), *found])
            if len(found) >= count or low <= start:
                return found
            end, window = low, window * 4


def follow(
    source: WindowSource,
    query: LogQuery,
    ended: Callable[[], bool],
    pacing: Pacing,
    *,
    start: float,
) -> Iterator[LogLine]:
    """The lines ``query`` asks for, read through ``source``: the history since ``start``
    (or its last ``query.tail`` lines), then, with ``query.follow``, new lines until
    ``ended()`` and one last read after it.

    Args:
        source: the provider's reads.
        query: ``follow`` and ``tail`` are used here; the source applies its filters.
        ended: whether the job is terminal; asked once per poll.
        pacing: ``log_poll``, ``log_max_poll``, ``log_overlap``, ``log_drain`` and
            ``log_tail_window`` are used.
        start: no entry of interest is older (``--since``, or the job's creation).
    """
    if not query.follow and query.tail is None:  # one read: nothing to remember
        for entry in source.read(start):
            yield from entry.lines
        return
    window = _Window(start, pacing)
    if query.tail is not None:
        yield from window.tail(source, query.tail)
    else:
        yield from window.read(source)
    if not query.follow:
        return
    delay = pacing.log_poll
    while True:
        done = ended()  # asked before the wait: the last read comes ``log_drain`` after it
        time.sleep(pacing.log_drain if done else delay)
        shown = yield from window.read(source, final=done)
        if done:
            return
        idle = not shown and source.slow_when_idle
        delay = min(delay * 1.5, pacing.log_max_poll) if idle else pacing.log_poll


class _Window:
    """Where the next read starts, and the keys of the entries shown at or after it."""

    def __init__(self, start: float, pacing: Pacing) -> None:
        self.start = start
        self.pacing = pacing
        self.seen: dict[Hashable, float] = {}

    def read(self, source: WindowSource, *, final: bool = False) -> Generator[LogLine, None, bool]:
        """Lines of the entries not shown yet, read on while the source is behind; whether
        there were any."""
        shown = False
        while True:
            shown = (yield from self._read_once(source, final=final)) or shown
            if not source.behind:
                return shown

    def _read_once(self, source: WindowSource, *, final: bool) -> Generator[LogLine, None, bool]:
        began = time.time()
        newest: Optional[float] = None  # of every entry returned: those shown before too
        count = 0
        for entry in source.read(self.start, final=final, paged=not final):
            newest = entry.time if newest is None else max(newest, entry.time)
            if not self._fresh(entry):
                continue
            yield from entry.lines
            count += 1
            if count % _PRUNE_EVERY == 0:  # a long history: forget what cannot come back
                self._forget(min(newest, began - self.pacing.log_overlap))
        if newest is None:
            return False
        # A line not visible yet when this read began is newer than (its start - overlap);
        # never past the newest line shown, though: the nodes' clocks may be behind ours.
        # A page that stopped short holds every line older than its newest: the next read
        # goes on from there (from the overlap, it could return the same page again).
        overlap = 0.0 if source.behind else self.pacing.log_overlap
        self._advance(min(newest, began - overlap))
        return count > 0

    def tail(self, source: WindowSource, count: int) -> Iterator[LogLine]:
        """The last ``count`` lines; the next read starts at the newest of them."""
        entries = source.newest(max(count, 1), self.start, self.pacing.log_tail_window)
        lines = [line for entry in entries for line in entry.lines]
        for entry in entries:
            if entry.key is not None:
                self.seen[entry.key] = entry.time
        if entries:
            self._advance(max(entry.time for entry in entries))
        return iter(lines[-count:] if count else [])

    def _fresh(self, entry: Entry) -> bool:
        """Whether ``entry`` was not shown yet (it is remembered as shown now)."""
        if entry.key is None:
            return True
        # Keyed entries older than the read's start may have been forgotten: a store
        # whose times are coarser than ours can return them again.
        if entry.key in self.seen or entry.time < self.start:
            return False
        self.seen[entry.key] = entry.time
        return True

    def _advance(self, start: float) -> None:
        """Move the next read's start forward; keys older than it cannot come back."""
        self.start = max(self.start, start)
        self._forget(self.start)

    def _forget(self, before: float) -> None:
        """Drop the keys stamped before ``before``: the next read starts at or after it
        (the newest entry shown and the read's start only grow), so they cannot return."""
        for key in [key for key, stamp in self.seen.items() if stamp < before]:
            del self.seen[key]


def _unique(entries: list[Entry]) -> list[Entry]:
    """``entries`` without repeated keys, in order (the first of each kept)."""
    seen: set[Hashable] = set()
    kept = []
    for entry in entries:
        if entry.key is None or entry.key not in seen:
            kept.append(entry)
        if entry.key is not None:
            seen.add(entry.key)
    return kept
