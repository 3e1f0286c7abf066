"""Rehearsed jobs: a cloud's job run on this machine by its platform runner.

A rehearsal is recorded under its cloud's name with ``location.rehearsal`` set (so
``mlx jobs`` shows it as that provider's, and its trials inherit the mark). Its job folder
has the local layout (``logs/``, ``exit.json``, the supervisor's lock), so status, logs and
cancel are the local backend's; its artifacts are where the runner put them, in the
folders that stand in for the cloud's buckets (``mlx.runner.rehearsal.buckets``).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

from mlx.backends.local.backend import LocalBackend, _write_json, spawn_detached
from mlx.cloud.objects import list_under
from mlx.cloud.pacing import Pacing, current
from mlx.errors import BackendError, BackendUnavailable
from mlx.model import (
    Artifact,
    JobKind,
    JobRecord,
    JobState,
    JobStatus,
    Progress,
    Submission,
    TrialStatus,
)
from mlx.runner.rehearsal import REQUEST_FILE, TRIALS_FILE, buckets, folder_stores
from mlx.spec import JobSpec

# Rehearsals keep their state in files, like local jobs: polling them is cheap.
PACING = Pacing(poll=0.2, view_refresh=0.5)


class RehearsalBackend(LocalBackend):
    """Rehearsals of one provider's jobs (``rehearsal_backend(name)`` makes the class)."""

    @property
    def pacing(self) -> Pacing:
        return current(PACING)

    @property
    def cloud(self) -> Any:
        from mlx import providers

        return providers.backend_for(self.name)

    # -- submit ------------------------------------------------------------------------

    def preflight(self, spec: JobSpec, kind: JobKind) -> None:
        if not self.provider.runner:
            raise BackendUnavailable(f"{self.provider.title} jobs cannot be rehearsed here")

    def submit(self, spec: JobSpec, job_id: str) -> Submission:
        return self._start(spec, job_id, JobKind.TRAINING)

    def submit_tuning(self, spec: JobSpec, job_id: str) -> Submission:
        return self._start(spec, job_id, JobKind.TUNING)

    def _start(self, spec: JobSpec, job_id: str, kind: JobKind) -> Submission:
        """Stage into the local buckets what the cloud would read, keep the request, start
        the supervisor (``mlx.runner.rehearsal``)."""
        from mlx.runner.runtimes import pick_runtime

        job_dir = self.job_dir(job_id)
        (job_dir / "logs").mkdir(parents=True, exist_ok=True)
        stores = folder_stores(buckets(self.home))
        request = self.cloud.stage_rehearsal(spec, job_id, kind, stores)
        # auto: Docker with the real image when a daemon answers, else the sandbox.
        runtime = pick_runtime(os.environ.get("MLX_REHEARSAL_RUNTIME", "auto"))
        shown = (self.cloud.render_tuning if kind == JobKind.TUNING else self.cloud.render)(
            spec, job_id
        )
        _write_json(
            job_dir / "plan.json",
            {
                "job_id": job_id,
                "provider": self.name,
                "kind": kind.value,
                "home": str(self.home),
                "store": str(self.home / "jobs.db"),
                "runtime": runtime.name,
                "request": shown,  # secrets masked: what `translate` prints
            },
        )
        # The request with its secret values, for the supervisor alone (which deletes it).
        fd = os.open(job_dir / REQUEST_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(request, f)
        process = spawn_detached(
            [sys.executable, "-m", "mlx.runner.rehearsal", str(job_dir)],
            job_dir / "supervisor.out",
            dict(os.environ),
        )
        return Submission(
            native_id=job_id,
            artifacts_uri=None,  # known when the runner has put them somewhere
            location={"rehearsal": runtime.name},
            info={"job_dir": str(job_dir), "pid": process.pid, "note": runtime.note},
        )

    def render(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        return dict(self.cloud.render(spec, job_id))

    def render_tuning(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        return dict(self.cloud.render_tuning(spec, job_id))

    def resume_tuning(self, record: JobRecord) -> None:
        raise BackendError("a rehearsed tuning job cannot be resumed; rehearse it again")

    # -- state -------------------------------------------------------------------------

    def status(self, record: JobRecord) -> JobStatus:
        if not record.is_trial:
            return super().status(record)
        trial = self._trial(record)
        if trial is None:
            return JobStatus(JobState.PENDING)
        return JobStatus(JobState(trial["state"]), trial.get("reason"))

    def list_trials(self, record: JobRecord) -> list[TrialStatus]:
        from mlx.spec import spec_from_record

        spec = spec_from_record(
            record.spec, record.info.get("base_dir", "."), record.info.get("source", "<spec>")
        )
        decode = self.cloud.rehearsed_trial_params  # the platform's names and encodings
        return [
            TrialStatus(
                number=int(t["number"]),
                native_id=str(t["id"]),
                state=JobState(t.get("state") or "running"),
                params=decode(spec, dict(t.get("params") or {})),
                objective=t.get("objective"),
                message=t.get("reason"),
            )
            for t in self._trials(record.id)
        ]

    def _trials(self, job_id: str) -> list[dict[str, Any]]:
        try:
            trials: list[dict[str, Any]] = json.loads(
                (self.job_dir(job_id) / TRIALS_FILE).read_text()
            )
        except (OSError, ValueError):
            return []
        return trials

    def _trial(self, record: JobRecord) -> Optional[dict[str, Any]]:
        number = record.info.get("trial")
        assert record.parent_id is not None
        return next((t for t in self._trials(record.parent_id) if t["number"] == number), None)

    def cancel(self, record: JobRecord) -> None:
        if not record.is_trial:  # a trial stops with its tuning job
            super().cancel(record)

    # -- artifacts: where the runner put them, in the local buckets --------------------

    def _artifacts_prefix(self, record: JobRecord) -> Optional[str]:
        if record.is_trial:
            trial = self._trial(record)
            return trial.get("artifacts_uri") if trial else None
        return record.artifacts_uri

    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        uri = self._artifacts_prefix(record)
        if not uri:
            return []
        store, prefix = folder_stores(buckets(self.home))(uri)
        return list_under(store, prefix)

    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        uri = self._artifacts_prefix(record)
        assert uri is not None
        store, prefix = folder_stores(buckets(self.home))(uri)
        store.download(prefix + artifact.path, target, progress)


@functools.cache
def rehearsal_backend(provider: str) -> RehearsalBackend:
    """The one rehearsal backend of ``provider`` in this process."""
    cls = type(f"{provider.title()}Rehearsal", (RehearsalBackend,), {"name": provider})
    return cls()
