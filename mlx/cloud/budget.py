"""A request quota shared by every log follower of this machine.

Some log stores ration reads per project or account, not per caller: Cloud Logging allows
60 ``entries.list`` requests a minute per project (https://cloud.google.com/logging/quotas#api-limits),
and three ``mlx logs -f`` of one project share those 60. So followers that read the same
quota register here, and each request is taken from a budget they share:

- a shared log of the requests made in the last period (one small file per quota under
  ``$MLX_HOME/followers/``, read and rewritten under an exclusive lock): a request waits
  while the period already holds ``quota`` of them, so all followers together never exceed
  the quota in any window of one period;
- a fair share: each follower spaces its requests ``period * followers / quota`` apart, so
  one follower cannot take the whole quota while others wait, and the requests of a poll
  are spread out instead of bursting (the polls slow down as each poll needs more calls);
- the live followers are the registration files whose process still runs (a follower that
  was killed leaves a file behind; it stops counting once its process is gone).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from mlx.cloud.pacing import Pacing

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_serial = itertools.count()


class Budget:
    """One follower's place in a shared quota (``quota`` requests per ``period`` seconds).
    Use it as a context manager: entering registers the follower, leaving removes it."""

    def __init__(self, folder: Path, quota: float, period: float) -> None:
        self.folder = folder
        self.quota = max(1, int(quota))
        self.period = period
        self.me = folder / f"{os.getpid()}-{next(_serial)}.follower"
        self.last: Optional[float] = None  # this follower's last request

    def __enter__(self) -> Budget:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.me.touch()
        return self

    def __exit__(self, *exc: object) -> None:
        self.me.unlink(missing_ok=True)

    def take(self, calls: int = 1) -> None:
        """Wait until ``calls`` requests fit in the quota and this follower's share, then
        count them as made now."""
        calls = min(max(calls, 1), self.quota)
        while True:
            wait = self._try(calls)
            if wait <= 0:
                return
            time.sleep(wait)

    def followers(self) -> int:
        """Live followers of this quota (this one included)."""
        live = 0
        for entry in self.folder.glob("*.follower"):
            if entry == self.me or _alive(int(entry.name.split("-", 1)[0])):
                live += 1
            else:
                entry.unlink(missing_ok=True)
        return max(live, 1)

    def _try(self, calls: int) -> float:
        """0 once the requests are counted; else the seconds to wait before trying again."""
        with _locked(self.folder / "requests") as log:
            now = time.time()
            recent = [t for t in _times(log) if t > now - self.period]
            spacing = self.period * self.followers() / self.quota
            wait = 0.0 if self.last is None else self.last + spacing - now
            over = len(recent) + calls - self.quota
            if over > 0:  # the oldest requests must leave the window first
                wait = max(wait, recent[over - 1] + self.period - now)
            if wait > 0:
                return wait
            self.last = now + spacing * (calls - 1)  # the calls' share of this follower's time
            _write(log, [*recent, *[now] * calls])
            return 0.0


def budget_for(name: str, pacing: Pacing) -> contextlib.AbstractContextManager[Optional[Budget]]:
    """The shared budget of quota ``name`` (e.g. ``cloud-logging-<project>``), or None
    when the pacing rations nothing."""
    if pacing.log_read_quota <= 0:
        return contextlib.nullcontext()
    from mlx.settings import mlx_home

    folder = mlx_home() / "followers" / _SAFE.sub("_", name)
    return Budget(folder, pacing.log_read_quota, pacing.log_quota_period)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def _times(fd: int) -> list[float]:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return [float(word) for word in data.split()]


def _write(fd: int, times: list[float]) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    os.ftruncate(fd, 0)
    os.write(fd, "".join(f"{t:.6f}\n" for t in times).encode())
