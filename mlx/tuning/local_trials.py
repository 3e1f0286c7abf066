"""Trials of local tuning: each a child job run here, through the same ``Supervisor`` a
training job uses, in a thread of the driver (a trial costs no extra interpreter start).

``mlx.tuning.driver`` asks a trial runner (this one, or ``cloud_trials.CloudTrials`` for
``tune.engine: mlx`` on a cloud) for three things: the trial's record, a run that ends on
its own or when stopped, and, after the driver died, what to do with a trial it left
running (here: stop its orphaned processes and run it again).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Optional

from mlx.backends.local.backend import LocalBackend
from mlx.backends.local.run import Supervisor, acquire_lock, stop_orphaned_nodes
from mlx.model import JobKind, JobRecord, JobState
from mlx.spec import JobSpec


def trial_record(parent: JobRecord, job_id: str, spec: JobSpec, **fields: Any) -> JobRecord:
    """The child job of trial ``job_id`` of tuning job ``parent``, pending."""
    now = time.time()
    return JobRecord(
        id=job_id,
        provider=parent.provider,
        name=spec.name,
        kind=JobKind.TRIAL,
        parent_id=parent.id,
        state=JobState.PENDING,
        spec=spec.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
        **fields,
    )


class LocalRun:
    """One trial's nodes, supervised in a thread; ``done`` is set when it has ended."""

    def __init__(self, backend: LocalBackend, spec: JobSpec, job_id: str, wake: threading.Event):
        trial_dir, secrets = backend.prepare(spec, job_id)
        lock_fd = acquire_lock(trial_dir)
        assert lock_fd is not None
        self.lock_fd = lock_fd
        (trial_dir / "supervisor.pid").write_text(str(os.getpid()))
        self.supervisor = Supervisor(trial_dir, extra_env=secrets)
        self.metrics_file = trial_dir / "metrics.jsonl"
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(wake,), daemon=True)
        self.thread.start()

    def _run(self, wake: threading.Event) -> None:
        try:
            self.supervisor.run()
        finally:
            # The loop handles a finished trial at once, not at its next poll (the thread
            # itself is still alive for a moment after this).
            self.done.set()
            wake.set()

    def stop(self, reason: str) -> None:
        self.supervisor.cancel(reason)

    def close(self) -> None:
        self.thread.join()
        os.close(self.lock_fd)


class LocalTrials:
    """Trials as local child jobs under ``backend.home``."""

    def __init__(self, backend: LocalBackend, parent: JobRecord) -> None:
        self.backend = backend
        self.parent = parent

    def record(self, job_id: str, spec: JobSpec, info: dict[str, Any]) -> JobRecord:
        return trial_record(
            self.parent,
            job_id,
            spec,
            native_id=job_id,
            info=info,
            artifacts_uri=(self.backend.job_dir(job_id) / "artifacts").as_uri(),
        )

    def start(self, spec: JobSpec, job_id: str, wake: threading.Event) -> LocalRun:
        return LocalRun(self.backend, spec, job_id, wake)

    def reattach(self, job_id: str, wake: threading.Event) -> Optional[LocalRun]:
        """A trial the dead driver ran cannot be picked up: its processes are stopped, and
        it runs again."""
        stop_orphaned_nodes(self.backend.job_dir(job_id))
        return None

    def metrics_file(self, job_id: str) -> Path:
        return self.backend.job_dir(job_id) / "metrics.jsonl"
