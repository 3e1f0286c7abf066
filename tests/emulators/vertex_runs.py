"""The Vertex test server running its jobs: mlx's Vertex platform runner behind it.

Attached to a ``VertexServer`` (``executor``), every ``CreateCustomJob`` and
``CreateHyperparameterTuningJob`` starts a thread that runs the request the server received
with ``mlx.backends.vertex.runner.VertexRunner`` in the sandbox runtime, and a ``Host``
whose

- ``store`` is mlx's own Cloud Storage adapter (``GcsStore``) on the GCS emulator, so the
  job reads what mlx staged and writes what ``pull-artifacts`` fetches;
- ``line`` appends Cloud Logging entries as Vertex writes them: resource ``ml_job`` with
  the job's numeric id and the replica's ``task_name``, trials labelled
  ``ml.googleapis.com/trial_id``, stderr with severity ERROR;
- ``event`` sets the job's state, error and trials in the server.

``CancelCustomJob`` sets the run's ``cancelled``; ``stop`` stops every run (teardown).
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from tests.emulators.cloud_logging import LoggingServer, log_entry
from tests.emulators.vertex import VertexServer

TRIAL_LABEL = "ml.googleapis.com/trial_id"
_REQUEST_KEYS = {"customJobs": "customJob", "hyperparameterTuningJobs": "hyperparameterTuningJob"}


class VertexRuns:
    """Runs the jobs a ``VertexServer`` creates (see the module's docstring)."""

    def __init__(
        self,
        vertex: VertexServer,
        logging: LoggingServer,
        workspace: Path,
        project: str = "test-project",
    ) -> None:
        from mlx.runner.sandbox import SandboxRuntime

        self.vertex, self.logging, self.project = vertex, logging, project
        self.workspace = workspace
        self.runtime = SandboxRuntime(scratch=workspace / "sandbox")
        self.errors: dict[str, BaseException] = {}  # a run that broke: job id -> error
        self._threads: dict[str, threading.Thread] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._buckets: dict[str, Any] = {}
        self._trials: dict[str, dict[str, dict[str, Any]]] = {}  # job -> trial id -> Trial
        self._lock = threading.Lock()

    def attach(self) -> VertexRuns:
        self.vertex.executor = self
        return self

    # -- what the server calls ---------------------------------------------------------

    def start(self, job_id: str, kind: str, body: dict[str, Any]) -> None:
        request = {"parent": f"projects/{self.project}", _REQUEST_KEYS[kind]: body}
        cancelled = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(job_id, request, cancelled), name=f"vertex-run-{job_id}"
        )
        with self._lock:
            self._cancels[job_id] = cancelled
            self._threads[job_id] = thread
        thread.start()

    def running(self, job_id: str) -> bool:
        with self._lock:
            thread = self._threads.get(job_id)
        return thread is not None and thread.is_alive()

    def cancel(self, job_id: str) -> None:
        with self._lock:
            cancelled = self._cancels.get(job_id)
        if cancelled is not None:
            cancelled.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel every run, wait for them, and detach from the server."""
        with self._lock:
            runs = list(self._threads.items())
            for event in self._cancels.values():
                event.set()
        for _job_id, thread in runs:
            thread.join(timeout)
        if self.vertex.executor is self:
            self.vertex.executor = None

    # -- one run -----------------------------------------------------------------------

    def _run(self, job_id: str, request: dict[str, Any], cancelled: threading.Event) -> None:
        from mlx.backends.vertex.runner import VertexRunner
        from mlx.runner.host import Host

        host = Host(
            store=self._store,
            runtime=self.runtime,
            workspace=self.workspace / job_id,
            line=lambda where, text, when: self._line(job_id, where, text, when),
            event=lambda what, details: self._event(job_id, what, details),
            cancelled=cancelled,
        )
        runner = VertexRunner(job_id)
        try:
            if "customJob" in request:
                runner.run_training(request, host)
            else:
                runner.run_tuning(request, host)
        except BaseException as e:  # a broken run fails its job, visibly
            self.errors[job_id] = e
            message = f"the test server's run broke: {e!r}"
            self.vertex.set_state(job_id, "JOB_STATE_FAILED", {"code": 13, "message": message})

    def _store(self, uri: str) -> tuple[Any, str]:
        from mlx.backends.vertex.clients import Backoff
        from mlx.backends.vertex.objects import GcsStore
        from mlx.cloud.layout import split_uri

        bucket, key = split_uri(uri)
        with self._lock:
            if bucket not in self._buckets:
                self._buckets[bucket] = _client(self.project).bucket(bucket)
        retry = Backoff(0.05, 0.5, 10.0).storage_retry()
        return GcsStore(self._buckets[bucket], retry), key

    def _line(self, job_id: str, where: Any, text: str, when: float) -> None:
        labels = {TRIAL_LABEL: where.trial} if where.trial is not None else {}
        entry = log_entry(
            text,
            job_id=job_id,
            task_name=where.stream,
            timestamp=datetime.fromtimestamp(when, timezone.utc),
            labels=labels,
            severity="ERROR" if where.channel == "stderr" else "INFO",
            project=self.project,
        )
        self.logging.append([entry])

    def _event(self, job_id: str, what: str, details: dict[str, Any]) -> None:
        if what in ("running", "ended"):
            self.vertex.set_state(job_id, details["state"], details.get("error"))
        elif what in ("trial-started", "trial-ended"):
            self._trial(job_id, details["trial"])

    def _trial(self, job_id: str, trial: dict[str, Any]) -> None:
        with self._lock:
            trials = self._trials.setdefault(job_id, {})
            trials[trial["id"]] = trial
            listed = [trials[k] for k in sorted(trials, key=int)]
        self.vertex.set_trials(job_id, listed)

    def objectives(self, job_id: str) -> list[Optional[float]]:
        """The final measurement the server holds for each trial of tuning job ``job_id``."""
        job = self.vertex.jobs[job_id]
        found = []
        for trial in job.trials:
            values = [m.value for m in trial.final_measurement.metrics]
            found.append(values[0] if values else None)
        return found


def _client(project: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project=project, credentials=AnonymousCredentials())
