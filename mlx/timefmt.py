"""How mlx shows times and durations, in one place: every command prints a moment the same
way (local time, with the date and the zone) and a length of time the same way (``15.2s``,
``1m 05s``, ``4h 0m``, ``2d 3h``)."""

from __future__ import annotations

import time
from typing import Any, Optional

from mlx.model import JobRecord


def moment(when: float, *, millis: bool = False) -> str:
    """``2026-11-28 13:09:21 CET``: local time (``TZ`` decides), the date and the zone, so a
    line read next day or on another machine is unambiguous."""
    local = time.localtime(when)
    shown = time.strftime("%Y-%m-%d %H:%M:%S", local)
    if millis:
        shown += f".{int(when % 1 * 1000):03d}"
    return f"{shown} {time.strftime('%Z', local) or time.strftime('%z', local)}"


def length(seconds: float) -> str:
    """A duration as people read it: ``15.2s``, ``1m 05s``, ``4h 0m``, ``2d 3h``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60}m"
    return f"{whole // 86400}d {whole % 86400 // 3600}h"


def started_at(record: JobRecord) -> float:
    """When the job started running by its provider's clock (``info.started_at``, recorded
    from the provider's own start time), else when mlx created it."""
    value = record.info.get("started_at")
    return float(value) if isinstance(value, (int, float)) else record.created_at


def run_time(record: JobRecord, now: Optional[float] = None) -> float:
    """How long the job ran: from its provider's start to its end (the provider's end time
    where it gave one: ``lifecycle.refresh`` records it), or until now while it runs."""
    end = record.ended_at if record.ended_at is not None else (now or time.time())
    return max(0.0, end - started_at(record))


def provider_times(
    record: JobRecord,
    started: Optional[float],
    ended: Optional[float],
    state: Any,
) -> dict[str, Any]:
    """Store changes that record the provider's own start and end of ``record``: the start
    in ``info.started_at``, the end as ``ended_at`` once the job is terminal (the store
    would stamp the moment mlx noticed instead)."""
    changes: dict[str, Any] = {}
    if started is not None and record.info.get("started_at") != started:
        changes["info"] = {**record.info, "started_at": started}
    if ended is not None and getattr(state, "terminal", False) and record.ended_at != ended:
        changes["ended_at"] = ended
    return changes
