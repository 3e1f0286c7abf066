"""The worker of the store soak test (``test_safety.py``), in a module of its own: spawned
processes import only this and ``mlx.store``, not the emulators the tests import, so twenty
of them start in a second or two rather than tens of seconds on two cores."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any


def soak_worker(home: str, worker: int, seconds: float, start: Any, results: Any) -> None:
    """Submit-and-update like ``mlx train`` does, and list like ``mlx jobs``, for
    ``seconds`` after every process is ready (``start``, a barrier); puts (ids written,
    errors seen) on ``results``."""
    from mlx.errors import MlxError
    from mlx.model import JobRecord, JobState
    from mlx.store import Store

    store, ids, errors = Store(Path(home) / "jobs.db"), [], []
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job_id = f"soak-{worker}-{len(ids)}"
        try:
            now = time.time()
            store.insert(JobRecord(job_id, "local", "soak", JobState.PENDING, {}, now, now))
            ids.append(job_id)
            store.update(job_id, state=JobState.RUNNING, native_id=job_id)
            store.update(job_id, state=JobState.SUCCEEDED, metrics={"n": len(ids)})
            store.list(limit=50)
            store.find(job_id)
        except (MlxError, sqlite3.Error) as e:
            errors.append(f"{job_id}: {e}")
    store.close()
    results.put((ids, errors))
