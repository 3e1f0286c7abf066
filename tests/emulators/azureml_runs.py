"""The Azure ML test server's executing mode: a created job really runs.

``AzureMLServer.execute_jobs(runtime, workspace)`` turns it on: each created command or sweep
job is handed, as the v2 job document azure-ai-ml makes of it, to mlx's Azure ML platform
runner (``mlx.backends.azure.runner``) in a thread, with a ``Host`` whose objects are in
Azurite (mlx's own ``BlobStore`` on the workspace's containers and on the code upload's
container), whose lines are appended to the run's log blobs (``user_logs/...`` under
``ExperimentRun/dcid.<run>/``, where Azure ML writes them) and whose events move the job,
and a sweep's child runs, through their states. ``POST jobs/cancel`` stops the run; the
cancel completes once the runner says the job is Canceled.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import unquote, urlsplit

from mlx.runner.container import Runtime
from mlx.runner.host import Host, Where

if TYPE_CHECKING:
    from tests.emulators.azureml import AzureMLServer

JSON = dict[str, Any]
_FINAL = {"Completed", "Failed", "Canceled"}


class AzureRuns:
    """The jobs one server is running; see the module docstring."""

    def __init__(self, server: AzureMLServer, runtime: Runtime, workspace: Path) -> None:
        self.server, self.runtime, self.workspace = server, runtime, workspace
        self.cancels: dict[str, threading.Event] = {}
        self.threads: list[threading.Thread] = []
        self.objectives: dict[str, dict[str, Optional[float]]] = {}  # sweep -> trial -> value
        self.failures: list[BaseException] = []
        self._lock = threading.Lock()
        self._logs: set[str] = set()

    # -- starting and stopping -----------------------------------------------------------

    def start(self, name: str, job: JSON) -> None:
        document = self.document(name, job)
        cancelled = threading.Event()
        self.cancels[name] = cancelled
        thread = threading.Thread(
            target=self._run, args=(name, document, cancelled), name=f"azure-run-{name}"
        )
        thread.daemon = True
        self.threads.append(thread)
        thread.start()

    def cancel(self, name: str) -> None:
        if name in self.cancels:
            self.cancels[name].set()

    def stop_all(self, timeout: float = 30) -> None:
        for event in self.cancels.values():
            event.set()
        for thread in self.threads:
            thread.join(timeout)

    def _run(self, name: str, document: JSON, cancelled: threading.Event) -> None:
        from mlx.backends.azure.runner import AzureRunner

        host = Host(
            store=self.store,
            runtime=self.runtime,
            workspace=self.workspace / name,
            line=lambda where, text, at: self.line(name, where, text),
            event=lambda what, details: self.event(name, what, details),
            cancelled=cancelled,
        )
        runner = AzureRunner()
        try:
            if document.get("type") == "sweep":
                runner.run_tuning(document, host)
            else:
                runner.run_training(document, host)
        except BaseException as e:  # the runner's own failure: the test sees it
            self.failures.append(e)
            self._status(name, "Failed", f"test server: the runner failed: {e}")

    # -- the job as the runner reads it --------------------------------------------------

    def document(self, name: str, job: JSON) -> JSON:
        """The job as azure-ai-ml's entity dumps it (``load_job``'s form), with the code
        asset's blob URI for ``code`` and the environment's image."""
        from azure.ai.ml._restclient.arm_ml_service.models import JobBase
        from azure.ai.ml.entities import CommandJob
        from azure.ai.ml.sweep import SweepJob

        kind = SweepJob if job["properties"]["jobType"] == "Sweep" else CommandJob
        entity = kind._load_from_rest(JobBase({**job, "name": name}))
        document: JSON = json.loads(json.dumps(entity._to_dict(), default=str))
        for part in (document, document.get("trial") or {}):
            if part.get("code"):
                part["code"] = self._asset(part["code"])["codeUri"]
            if isinstance(part.get("environment"), str):
                part["environment"] = {"image": self._asset(part["environment"]).get("image")}
        return document

    def _asset(self, arm_id: str) -> JSON:
        parts = arm_id.split("/")
        kind, asset, version = parts[-4], parts[-3], parts[-1]
        properties: JSON = self.server.assets[(kind, asset, version)]["properties"]
        return properties

    # -- what the runner asks of its host ------------------------------------------------

    def store(self, uri: str) -> tuple[Any, str]:
        """Datastore URIs (``azureml://datastores/<name>/paths/<path>``) and blob URLs in
        Azurite (the code upload's) -> mlx's ``BlobStore`` on the container, and the key."""
        from mlx.backends.azure.objects import BlobStore

        if uri.startswith("azureml://datastores/"):
            datastore, _, key = uri[len("azureml://datastores/") :].partition("/paths/")
            found = self.server._datastore(datastore)
            if found is None:
                raise ValueError(f"no datastore {datastore}")
            container = found["properties"]["containerName"]
        else:
            path = unquote(urlsplit(uri).path).lstrip("/")
            _account, container, key = path.split("/", 2)
        client = self.server.azurite.service_client().get_container_client(container)
        return BlobStore(client), key

    def line(self, job: str, where: Where, text: str) -> None:
        """Appended to ``user_logs/std_log*.txt`` of the run (the trial's in a sweep)."""
        run = where.trial or job
        blob = self.server.azurite.service_client().get_blob_client(
            self.server.artifact_container, f"{self.server.artifact_prefix(run)}/{where.stream}"
        )
        with self._lock:
            if blob.blob_name not in self._logs:
                blob.create_append_blob()
                self._logs.add(blob.blob_name)
            blob.append_block((text + "\n").encode())

    def event(self, job: str, what: str, details: JSON) -> None:
        if what in ("running", "ended"):
            self._status(str(details.get("name") or job), details["status"], details.get("error"))
        elif what == "trial-started":
            tags = {"hyperparameters": json.dumps(details.get("params") or {})}
            self.server.add_child_runs(job, [{"runId": details["id"], "status": "Running"}])
            self._child(details["id"])["tags"] = tags
        elif what == "trial-ended":
            self._trial_ended(job, details)

    def _trial_ended(self, sweep: str, details: JSON) -> None:
        """The trial's status, and its objective where the sweep records it on the child
        run (``objective_of`` in mlx's ``runs`` reads the metric's name from the tags)."""
        objective = details.get("objective")
        with self._lock:
            self.objectives.setdefault(sweep, {})[details["id"]] = objective
        metric = self.server.jobs[sweep]["properties"]["objective"]["primaryMetric"]
        if objective is not None:
            self._child(details["id"])["tags"][metric] = str(objective)
        self._status(details["id"], details["status"], details.get("reason"))

    def _child(self, run_id: str) -> JSON:
        found = self.server._child(run_id)
        assert found is not None, run_id
        return found

    def _status(self, name: str, status: str, error: Optional[str]) -> None:
        with self.server._lock:
            run = self.server._runs.get(name) or self.server._child(name)
            if run is None or run["status"] in _FINAL:
                return  # a cancel already ended it
            self.server.set_status(name, status, error)
