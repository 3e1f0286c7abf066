"""Cloud tuning jobs whose search mlx runs (``tune.engine: mlx``).

Such a tuning job is recorded under its cloud's name with ``location.engine`` set (so
``mlx jobs`` lists it as that provider's). Its search is the local tuner's driver
(``mlx.tuning.driver``), detached on this machine, with its job folder under
``$MLX_HOME/jobs/<id>/`` (``logs/mlx.log``, ``study.journal``, ``exit.json``, the lock):
status, logs, cancel and resume of the tuning job are the local backend's. Each trial is
a training job on the cloud (``mlx.tuning.cloud_trials``), recorded as a child job that
carries the mark too; for those the cloud backend answers, shown the trial as the
training job it is (``as_training``), so logs, status, artifacts and cancel of
``--trial N`` are exactly those of ``mlx train``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mlx.backends.base import Backend
from mlx.backends.local.backend import LocalBackend, _supervisor_alive, spawn_detached
from mlx.backends.local.run import cancel_requested
from mlx.errors import BackendUnavailable, MlxError
from mlx.model import (
    Artifact,
    JobKind,
    JobRecord,
    JobState,
    JobStatus,
    LogLine,
    LogQuery,
    Progress,
    Submission,
)
from mlx.spec import JobSpec

if TYPE_CHECKING:
    from mlx.transfer import PullResult

ENGINE = "mlx"


def as_training(record: JobRecord) -> JobRecord:
    """A trial of mlx's engine as its cloud knows it: a training job of its own (cloud
    backends read ``kind=trial`` as one trial of their own tuner's job)."""
    location = {k: v for k, v in record.location.items() if k != "engine"}
    return replace(record, kind=JobKind.TRAINING, location=location)


class EngineBackend(LocalBackend):
    """One cloud's tuning jobs run by mlx's engine (``engine_backend(name)`` makes the
    class). ``live_metrics`` of a trial is the local backend's: the driver writes the
    metrics it parses from the trial's lines into the trial's folder here."""

    @property
    def cloud(self) -> Backend:
        from mlx import providers

        return providers.backend_for(self.name)

    # -- submit: the driver starts here ------------------------------------------------

    def preflight(self, spec: JobSpec, kind: JobKind) -> None:
        """The driver needs Optuna here, and each trial what ``mlx train`` needs."""
        from mlx.providers import installed

        if not installed("optuna"):
            raise BackendUnavailable(
                "`tune.engine: mlx` runs the search on this machine and needs optuna, "
                "which is not installed",
                hint="pip install 'mlx-jobs[tune]', or set `tune.engine: native`",
            )
        self.cloud.preflight(spec, JobKind.TRAINING)

    def submit_tuning(self, spec: JobSpec, job_id: str) -> Submission:
        submission = super().submit_tuning(spec, job_id)
        return replace(submission, artifacts_uri=None, location={"engine": ENGINE})

    def _start_driver(self, job_dir: Path) -> subprocess.Popen[bytes]:
        return spawn_detached(
            [sys.executable, "-m", "mlx.tuning.driver", str(job_dir)],
            job_dir / "driver.out",
            driver_environment(dict(os.environ)),
        )

    def render_tuning(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        """The search mlx runs, and the training request of its first trial (the others
        differ only in their hyperparameters and id)."""
        from mlx.ids import trial_id
        from mlx.tuning.trial_template import placeholders, search_settings, trial_spec

        assert spec.tune is not None
        first = trial_id(job_id, 0)
        return {
            "engine": ENGINE,
            "study": search_settings(spec.tune),
            "job_dir": str(self.job_dir(job_id)),
            # The sampled values as `<name>` placeholders (mlx.tuning.trial_template).
            "trial": self.cloud.render(trial_spec(spec, placeholders(spec.tune)), first),
        }

    # -- state -------------------------------------------------------------------------

    def status(self, record: JobRecord) -> JobStatus:
        if not record.is_trial:
            status = super().status(record)
            job_dir = self.job_dir(record.id)
            ended = (job_dir / "exit.json").exists()  # the driver's own word
            if status.state == JobState.FAILED and cancel_requested(job_dir) and not ended:
                # Cancelled while its driver was gone: its trials were stopped here.
                return JobStatus(JobState.CANCELLED, "cancelled")
            return status
        if not record.native_id:  # the driver is submitting it (or settles it on resume)
            return JobStatus(record.state)
        return self.cloud.status(as_training(record))

    def console_url(self, record: JobRecord) -> Optional[str]:
        if record.is_trial and record.native_id:
            return self.cloud.console_url(as_training(record))
        return None

    def cancel(self, record: JobRecord) -> None:
        """The tuning job: its driver stops, and cancels its running trials on the cloud;
        a driver that is gone cannot, so they are cancelled here. A trial: its job."""
        if record.is_trial:
            if record.native_id:
                self.cloud.cancel(as_training(record))
            return
        alive = _supervisor_alive(self.job_dir(record.id))
        super().cancel(record)
        if not alive:
            self.cancel_trials(record)

    def cancel_trials(self, record: JobRecord) -> None:
        """Ask the cloud to stop every trial of ``record`` the store shows unfinished."""
        from mlx.store import Store

        for trial in Store(self.home / "jobs.db").list(parent_id=record.id):
            if trial.native_id and not trial.state.terminal:
                with contextlib.suppress(MlxError):  # one that already ended says so
                    self.cloud.cancel(as_training(trial))

    # -- logs and artifacts of a trial: the cloud's ------------------------------------

    def logs(self, record: JobRecord, query: LogQuery) -> Iterator[LogLine]:
        if not record.is_trial:
            yield from super().logs(record, query)
        elif record.native_id:
            yield from self.cloud.logs(as_training(record), query)

    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        if not record.is_trial:
            return super().list_artifacts(record)
        return self.cloud.list_artifacts(as_training(record)) if record.native_id else []

    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        if not record.is_trial:
            return super().download(record, artifact, target, progress)
        return self.cloud.download(as_training(record), artifact, target, progress)

    def pull_many(
        self,
        record: JobRecord,
        include: list[str],
        exclude: list[str],
        dest: Path,
        show_progress: bool,
    ) -> Optional[PullResult]:
        if not record.is_trial:
            return None
        return self.cloud.pull_many(as_training(record), include, exclude, dest, show_progress)

    def local_checksum(self, path: Path, artifact: Artifact) -> Optional[str]:
        return self.cloud.local_checksum(path, artifact)


def driver_environment(env: dict[str, str]) -> dict[str, str]:
    """The driver's environment: this process's, less what an SDK wrote into it for its
    own use. azure-ai-ml's ``MLClient`` sets ``AZUREML_CURRENT_CLOUD`` to the cloud it was
    given (``_azure_environments._set_cloud``), and ``import azure.ai.ml`` resolves that
    name (``entities/_credentials.py``): a custom cloud (``MLX_AZURE_CLOUD`` with its
    metadata) is unknown in a new process until mlx passes it to ``MLClient`` again, so the
    import would fail there. mlx names the cloud itself; the copy is dropped."""
    if env.get("AZUREML_CURRENT_CLOUD") and env.get("AZUREML_CURRENT_CLOUD") == env.get(
        "MLX_AZURE_CLOUD"
    ):
        del env["AZUREML_CURRENT_CLOUD"]
    return env


@functools.cache
def engine_backend(provider: str) -> EngineBackend:
    """The one engine backend of ``provider`` in this process."""
    cls = type(f"{provider.title()}Engine", (EngineBackend,), {"name": provider})
    return cls()
