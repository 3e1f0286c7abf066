"""Every poll and retry interval of a provider, in one place, with one knob for tests.

Each provider declares its defaults in its descriptor (``Provider.pacing``); a backend
reads ``current(defaults)`` each time it waits, so the knob takes effect at once.

The knob is ``MLX_PACING``: ``fast`` (the test profile: milliseconds instead of seconds),
and/or ``field=value`` pairs, comma-separated (``fast,retry_total=1``). Tests set it
instead of patching attributes; it crosses into the processes mlx starts.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from typing import Any

from mlx.errors import MlxError

KNOB = "MLX_PACING"


@dataclass(frozen=True)
class Pacing:
    """Seconds (counts where named so) that a provider waits between calls."""

    poll: float = 2.0  # job state while mlx waits for a job
    log_poll: float = 2.0  # log reads while following
    log_max_poll: float = 10.0  # an idle follower slows down to this
    log_overlap: float = 30.0  # each read starts this far before the newest line shown
    # Log reads rationed by a provider quota, shared by this machine's followers
    # (``mlx.cloud.budget``): requests per ``log_quota_period`` seconds; 0 = none.
    log_read_quota: float = 0.0
    log_quota_period: float = 60.0
    log_drain: float = 0.0  # after the job ended, the last read waits this long
    log_tail_window: float = 60.0  # the first window `--tail` looks back over (then x4)
    retry_initial: float = 1.0  # first delay before retrying a call
    retry_max: float = 30.0  # longest delay between retries
    retry_total: float = 120.0  # seconds a call is retried for
    retry_attempts: int = 6  # attempts per call, the first included
    create_attempts: int = 3  # creates tried after an answer that may have been lost
    cancel_wait: float = 10.0  # how long a cancel follows the provider's cancel operation
    view_refresh: float = 0.5  # the live tuning table


# The test profile: every wait short, every count as in production.
FAST = {
    "poll": 0.02,
    "log_poll": 0.02,
    "log_max_poll": 0.1,
    "log_overlap": 5.0,
    "log_quota_period": 0.01,
    "log_drain": 0.1,
    "retry_initial": 0.01,
    "retry_max": 0.05,
    "retry_total": 5.0,
    "cancel_wait": 2.0,
    "view_refresh": 0.02,
}


def current(defaults: Pacing) -> Pacing:
    """``defaults`` with what ``MLX_PACING`` sets laid over them."""
    return _apply(defaults, os.environ.get(KNOB, ""))


@functools.lru_cache(maxsize=64)
def _apply(defaults: Pacing, knob: str) -> Pacing:
    return dataclasses.replace(defaults, **_parse(knob)) if knob.strip() else defaults


def _parse(knob: str) -> dict[str, Any]:
    fields = {f.name: f.type for f in dataclasses.fields(Pacing)}
    values: dict[str, Any] = {}
    for item in (part.strip() for part in knob.split(",")):
        if item == "fast":
            values.update(FAST)
            continue
        name, sep, text = item.partition("=")
        if not sep or name.strip() not in fields:
            raise MlxError(
                f"{KNOB}: {item!r} is not `fast` or FIELD=VALUE",
                hint=f"Fields: {', '.join(fields)}.",
            )
        try:
            number = float(text)
        except ValueError:
            raise MlxError(f"{KNOB}: {item!r}: {text!r} is not a number") from None
        values[name.strip()] = int(number) if fields[name.strip()] == "int" else number
    return values
