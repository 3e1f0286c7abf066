"""The read quota shared by this machine's log followers (``mlx.cloud.budget``)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from mlx.cloud.budget import Budget, budget_for
from mlx.cloud.pacing import Pacing


def test_followers_count_live_processes_only(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / f"{dead}-0.follower").touch()  # a follower that was killed
    with Budget(tmp_path, quota=60, period=60) as one, Budget(tmp_path, quota=60, period=60):
        assert one.followers() == 2
        assert not (tmp_path / f"{dead}-0.follower").exists()
    assert list(tmp_path.glob("*.follower")) == []


def test_followers_together_stay_within_the_quota_and_share_it(tmp_path: Path) -> None:
    quota, period = 4, 0.6
    granted: dict[int, list[float]] = {}

    def follower(index: int) -> None:
        with Budget(tmp_path, quota=quota, period=period) as budget:
            for _ in range(6):
                budget.take()
                # The instant the budget counted the request (its own clock, under its
                # lock): a thread's later look at the time may be late on a loaded machine.
                assert budget.last is not None
                granted.setdefault(index, []).append(budget.last)

    threads = [threading.Thread(target=follower, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = sorted(t for mine in granted.values() for t in mine)
    assert len(times) == 18
    busiest = max(sum(1 for t in times if start <= t < start + period * 0.95) for start in times)
    assert busiest <= quota
    assert sorted(granted) == [0, 1, 2]


def test_no_quota_no_budget() -> None:
    with budget_for("anything", Pacing()) as budget:
        assert budget is None
