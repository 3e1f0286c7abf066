"""The shared log follower (``mlx.cloud.follow``) over an in-memory source and a fake clock:
every read, wait and line is known, so the tests assert them exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Callable, Optional

import pytest

from mlx.cloud import follow as follow_module
from mlx.cloud.follow import Entry, WindowSource, follow
from mlx.cloud.pacing import Pacing
from mlx.model import LogLine, LogQuery

PACING = Pacing(
    log_poll=1.0,
    log_max_poll=4.0,
    log_overlap=10.0,
    log_drain=3.0,
    log_tail_window=60.0,
)
NOW = 1000.0


class Clock:
    """``time.time`` and ``time.sleep`` for ``mlx.cloud.follow``; the n-th sleep runs the
    n-th of ``on_sleep`` once the clock moved on (what happened while the follower slept)."""

    def __init__(self) -> None:
        self.now = NOW
        self.sleeps: list[float] = []
        self.on_sleep: list[Callable[[], None]] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if len(self.sleeps) <= len(self.on_sleep):
            self.on_sleep[len(self.sleeps) - 1]()


class Store(WindowSource):
    """Entries by time window, like CloudWatch or Cloud Logging; counts what it returns."""

    def __init__(self, slow_when_idle: bool = False, page: Optional[int] = None) -> None:
        self.slow_when_idle = slow_when_idle  # type: ignore[misc]
        self.page = page  # entries a paged read returns at most, like Cloud Logging's pages
        self.entries: list[Entry] = []
        self.reads: list[tuple[float, Optional[float], bool]] = []
        self.returned = 0

    def add(self, key: str, when: float) -> None:
        self.entries.append(Entry(key, when, (LogLine(when, key, 0),)))

    def read(
        self,
        start: float,
        end: Optional[float] = None,
        *,
        final: bool = False,
        paged: bool = False,
    ) -> Iterator[Entry]:
        self.reads.append((start, end, final))
        found = [
            entry
            for entry in sorted(self.entries, key=lambda e: e.time)
            if entry.time >= start and (end is None or entry.time <= end)
        ]
        self.behind = bool(paged and self.page and len(found) > self.page)
        if self.behind:
            found = found[: self.page]
        self.returned += len(found)
        yield from found


class Appended(WindowSource):
    """What is new since the last read, without keys, like Azure's append blobs."""

    def __init__(self) -> None:
        self.pending: list[str] = []
        self.finals: list[bool] = []

    def read(
        self,
        start: float,
        end: Optional[float] = None,
        *,
        final: bool = False,
        paged: bool = False,
    ) -> Iterator[Entry]:
        self.finals.append(final)
        new, self.pending = self.pending, []
        return iter([Entry(None, NOW, (LogLine(NOW, text, 0),)) for text in new])

    def newest(self, count: int, start: float, window: float) -> list[Entry]:
        return list(self.read(start))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(follow_module, "time", fake)
    return fake


def ends_after(checks: int) -> Callable[[], bool]:
    """``ended`` that answers False ``checks`` times, then True."""
    answers = iter([False] * checks)
    return lambda: next(answers, True)


def texts(
    source: WindowSource, query: LogQuery, ended: Callable[[], bool], start: float = 900.0
) -> list[str]:
    return [line.text for line in follow(source, query, ended, PACING, start=start)]


def test_overlapping_windows_show_each_entry_once(clock: Clock) -> None:
    store = Store()
    store.add("a", 995.0)
    store.add("b", 998.0)
    clock.on_sleep = [
        lambda: store.add("c", 1000.5),
        lambda: store.add("d", 1001.5),
        lambda: store.add("e", 1002.5),
    ]
    assert texts(store, LogQuery(follow=True), ends_after(2)) == ["a", "b", "c", "d", "e"]
    # Each read starts log_overlap before the previous one began (or at the newest entry
    # shown, if older), so a, b, c, d were read again and dropped by key.
    assert [start for start, _, _ in store.reads] == [900.0, 990.0, 991.0, 992.0]
    assert [final for _, _, final in store.reads] == [False, False, False, True]
    assert store.returned == 2 + 3 + 4 + 5
    assert clock.sleeps == [1.0, 1.0, 3.0]  # log_poll twice, then log_drain


def test_a_paged_source_behind_is_read_again_at_once_from_the_newest_shown(
    clock: Clock,
) -> None:
    """Cloud Logging's case: a poll whose entries fill more than a page reads on without
    waiting, each read a new query from the newest entry shown."""
    store = Store(page=2)
    for key, when in [("a", 991.0), ("b", 992.0), ("c", 993.0), ("d", 994.0), ("e", 995.0)]:
        store.add(key, when)
    clock.on_sleep = [lambda: [store.add(k, t) for k, t in [("f", 996.0), ("g", 997.0)]]]
    lines = texts(store, LogQuery(follow=True), ends_after(1))
    assert lines == ["a", "b", "c", "d", "e", "f", "g"]
    # History: a-b, then each read from the newest shown: b-c, c-d, d-e (whole: the
    # window keeps its overlap). One sleep (log_poll), f and g arrive: d-e (shown: on from
    # e), e-f, f-g (whole). The job ended: the last read, not paged, after log_drain.
    assert [start for start, _, _ in store.reads] == [
        *(900.0, 992.0, 993.0, 994.0),
        *(994.0, 995.0, 996.0),
        996.0,
    ]
    assert [final for _, _, final in store.reads] == [False] * 7 + [True]
    assert clock.sleeps == [1.0, 3.0]


def test_a_late_entry_inside_the_overlap_is_shown_once(clock: Clock) -> None:
    store = Store()
    store.add("a", 995.0)
    store.add("b", 998.0)
    clock.on_sleep = [
        lambda: store.add("late", 996.0),  # stamped before b, visible only after it
        lambda: store.add("c", 1001.5),
    ]
    lines = texts(store, LogQuery(follow=True), ends_after(2))
    assert lines == ["a", "b", "late", "c"]


def test_the_window_never_starts_past_the_newest_entry_shown(clock: Clock) -> None:
    """A node whose clock is behind ours: its lines are older than (now - overlap)."""
    store = Store()
    store.add("a", 900.0)
    clock.on_sleep = [lambda: store.add("b", 950.0)]
    assert texts(store, LogQuery(follow=True), ends_after(1), start=800.0) == ["a", "b"]
    assert [start for start, _, _ in store.reads] == [800.0, 900.0, 950.0]


def test_after_the_end_one_drain_read_gets_the_last_lines(clock: Clock) -> None:
    store = Store()
    store.add("old", 990.0)
    store.add("young", 999.5)
    clock.on_sleep = [lambda: store.add("last", 1002.0)]  # written during the drain wait
    ended_calls: list[bool] = []

    def ended() -> bool:
        ended_calls.append(True)
        return True

    assert texts(store, LogQuery(follow=True), ended) == ["old", "young", "last"]
    assert clock.sleeps == [3.0]  # log_drain, then nothing more
    assert [final for _, _, final in store.reads] == [False, True]
    assert len(ended_calls) == 1


def test_young_entries_are_shown_at_once_and_late_ones_when_they_arrive(clock: Clock) -> None:
    """Nothing is held back: a young entry is shown by the read that sees it; one that
    arrives after newer ones (stamped inside the look-back) by the next read, once."""
    store = Store()
    store.add("a", 990.0)
    store.add("b", 999.5)
    store.add("c", 999.9)

    def first_poll() -> None:
        store.add("late", 999.7)
        store.add("d", 1000.5)

    clock.on_sleep = [
        first_poll,
        lambda: store.add("later", 992.0),  # 9 s late: still inside the 10 s look-back
    ]
    lines = texts(store, LogQuery(follow=True), ends_after(2))
    assert lines == ["a", "b", "c", "late", "d", "later"]
    # Reads start at 900, then 990 (1000 - overlap), 991, 992: each sees the late entry
    # stamped after its start.
    assert [start for start, _, _ in store.reads] == [900.0, 990.0, 991.0, 992.0]
    assert clock.sleeps == [1.0, 1.0, 3.0]


def test_a_long_history_keeps_only_the_keys_that_can_come_back(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys of entries older than the next read's start are forgotten during the read."""
    monkeypatch.setattr(follow_module, "_PRUNE_EVERY", 10)
    store = Store()
    for i in range(100):
        store.add(f"h{i}", 100.0 + i)  # long before (now - overlap)
    window = follow_module._Window(0.0, PACING)
    sizes = []
    for _ in window.read(store):
        sizes.append(len(window.seen))
    assert len(sizes) == 100
    assert max(sizes) <= 11  # at most one pruning interval of keys, not the history


def test_an_idle_follower_slows_down_to_max_poll_and_back(clock: Clock) -> None:
    store = Store(slow_when_idle=True)
    clock.on_sleep = [lambda: None] * 5 + [lambda: store.add("x", clock.now)]
    assert texts(store, LogQuery(follow=True), ends_after(7)) == ["x"]
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375, 4.0, 4.0, 1.0, 3.0]


def test_without_slowing_down_the_interval_stays_log_poll(clock: Clock) -> None:
    assert texts(Store(), LogQuery(follow=True), ends_after(3)) == []
    assert clock.sleeps == [1.0, 1.0, 1.0, 3.0]


def test_tail_reads_windows_backwards_and_follows_from_the_newest(clock: Clock) -> None:
    store = Store()
    for key, when in [("1", 500.0), ("2", 800.0), ("3", 995.0), ("4", 998.0)]:
        store.add(key, when)
    clock.on_sleep = [lambda: store.add("new", 1000.5)]
    lines = texts(store, LogQuery(follow=True, tail=1), ends_after(1), start=0.0)
    # "3" is inside the overlap of the first poll, but older than the tail shown.
    assert lines == ["4", "new"]
    assert store.reads[:3] == [
        (1240.0, 1300.0, False),
        (1000.0, 1240.0, False),
        (40.0, 1000.0, False),
    ]
    assert [start for start, _, _ in store.reads[3:]] == [998.0, 998.0]


def test_tail_without_follow_is_the_last_lines_and_asks_nothing(clock: Clock) -> None:
    store = Store()
    for i in range(5):
        store.add(f"line {i}", 990.0 + i)

    def ended() -> bool:
        raise AssertionError("a one-off read asks no state")

    assert texts(store, LogQuery(tail=2), ended) == ["line 3", "line 4"]
    assert texts(store, LogQuery(tail=0), ended) == []
    assert texts(store, LogQuery(), ended) == [f"line {i}" for i in range(5)]
    assert clock.sleeps == []


def test_a_source_without_keys_is_read_for_what_is_new(clock: Clock) -> None:
    source = Appended()
    source.pending = ["same", "same", "older"]
    clock.on_sleep = [lambda: source.pending.append("same"), lambda: None, lambda: None]
    lines = texts(source, LogQuery(follow=True, tail=2), ends_after(2))
    assert lines == ["same", "older", "same"]
    assert source.finals == [False, False, False, True]
