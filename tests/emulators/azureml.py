"""A test server for the Azure ML REST APIs that ``azure.ai.ml.MLClient`` calls.

Azure ML has no emulator. This threaded HTTP server on 127.0.0.1 answers the ARM
(``/subscriptions/.../workspaces/{ws}/...``), run-history (``/history/v1.0/...``) and
discovery calls behind ``MLClient.jobs`` (create/get/list/cancel of command and sweep
jobs, code upload, anonymous environments, computes, datastores). Storage is Azurite:
the datastores point at the dev account, code uploads land there through the SAS URL the
server hands out, and job logs live under the job's artifact path, as on Azure.

Tests reach it with ``MLClient(..., **server.client_kwargs())`` (a unique cloud name, the
cloud metadata, and an auth policy that works over plain http), drive job state with
``set_status``, read what the SDK sent with ``requests``, and inject faults with ``plan``.

It holds jobs to the service's rules: a created job must pass ``azureml_rules`` (azure-ai-ml's
REST model and schemas, and the documented limits), and ``set_status`` refuses a transition
the service's ``JobStatus`` enum does not allow (``transition_problem``), so a test cannot
play a job the way Azure ML never would.
"""

from __future__ import annotations

import fnmatch
import json
import re
import socket
import struct
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from mlx.runner.container import Runtime
from tests.emulators.azureml_rules import job_problem
from tests.emulators.azureml_runs import AzureRuns
from tests.emulators.azurite import DEV_ACCOUNT, DEV_KEY, AzuriteServer
from tests.emulators.faults import Fault, FaultPlan, QuietHTTPServer

TEST_TOKEN = "mlx-test-token"  # the server only checks that a bearer token is present
_PROVIDER = "Microsoft.MachineLearningServices"
# Job states, in the order azure-ai-ml 1.35.2 declares the service's JobStatus enum
# (azure/ai/ml/_restclient/arm_ml_service/models/_enums.py), which runs move through in
# order: NotStarted "hasn't started", Starting "has started", Provisioning, Preparing "the
# run environment is being prepared", Queued "waiting for all required nodes", Running,
# Finalizing "completed in the target... output collection", CancelRequested, and the
# final Completed, Failed, Canceled. Two states sit outside the order: "NotResponding is
# the only state that is exempt from strict transition orders. A run can go from
# NotResponding to any of the previous states", and Paused ("paused by users. Some
# adjustment... can be made only in paused state"), which a run enters and leaves.
_ORDER = (
    "NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running",
    "Finalizing", "CancelRequested", "Completed", "Failed", "Canceled",
)  # fmt: skip
_FINAL = {"Completed", "Failed", "Canceled"}
_ASIDE = {"NotResponding", "Paused"}


def transition_problem(old: str, new: str) -> Optional[str]:
    """Why a run cannot go from ``old`` to ``new`` (None: it can)."""
    if new == old:
        return None
    if new not in (*_ORDER, *_ASIDE):
        return f"{new!r} is not an Azure ML job status"
    if old in _FINAL:
        return f"a {old} run is final: it cannot become {new}"
    if old in _ASIDE or new in _ASIDE:  # entered from, and left to, any state
        return None
    if _ORDER.index(new) < _ORDER.index(old):
        return f"runs move forward through the job states: {old} cannot become {new}"
    return None


_LOG_DIRS = ("user_logs/", "azureml-logs/", "system_logs/", "logs/")

JSON = dict[str, Any]
Handler = Callable[..., "Reply"]


@dataclass
class Request:
    """One request as the server received it (``requests()`` returns these)."""

    operation: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int = 0  # what the server answered (after faults)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    reset_after: Optional[int] = None  # drop the connection after this many body bytes


def _error(status: int, code: str, message: str) -> Reply:
    """An ARM error body; azure-core maps 404 to ResourceNotFoundError and so on."""
    return Reply(status, {"error": {"code": code, "message": message}})


def _not_found(what: str) -> Reply:
    return _error(404, "UserError", f"{what} not found")


def _fault_reply(fault: Fault) -> Optional[Reply]:
    """The answer a fault replaces the real one with (None: answer normally)."""
    if fault.kind == "slow":
        time.sleep(fault.delay)
    if fault.kind == "throttle":  # Retry-After 0 keeps azure-core's retries instant
        status = 429 if fault.status == 503 else fault.status  # 503 is Fault's default
        body = {"error": {"code": "TooManyRequests", "message": "throttled"}}
        return Reply(status, body, {"Retry-After": "0"})
    if fault.kind == "error":
        return _error(
            fault.status, fault.code or "ServiceUnavailable", fault.message or "injected fault"
        )
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _content_hash(asset: JSON) -> Optional[str]:
    return asset["properties"].get("properties", {}).get("hash_sha256")


# Route templates: {name} matches one path segment, {kind} the versioned asset kinds.
_WS = f"/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/{_PROVIDER}/workspaces/{{ws}}"
_ASSET = _WS + "/{kind}/{name}/versions"
_UPLOAD = _ASSET + "/{version}/startPendingUpload"
_RUN = "/history/v1.0" + _WS + "/runs/{name}"
_OPERATION = (
    f"/subscriptions/{{sub}}/providers/{_PROVIDER}/locations/{{loc}}/mfeOperationResults/{{op}}"
)
# (method, template, operation name for faults and requests(), handler method)
_ROUTES = [
    ("GET", "/discovery", "GET discovery", "get_discovery"),
    ("GET", _WS, "GET workspace", "get_workspace"),
    ("GET", _WS + "/datastores", "LIST datastores", "list_datastores"),
    ("GET", _WS + "/datastores/{name}", "GET datastores", "get_datastore"),
    ("POST", _WS + "/datastores/{name}/listSecrets", "POST datastores/listSecrets", "list_secrets"),
    ("GET", _WS + "/computes/{name}", "GET computes", "get_compute"),
    ("GET", _ASSET, "LIST {kind}", "list_assets"),
    ("GET", _ASSET + "/{version}", "GET {kind}", "get_asset"),
    ("PUT", _ASSET + "/{version}", "PUT {kind}", "put_asset"),
    ("POST", _UPLOAD, "POST {kind}/startPendingUpload", "start_upload"),
    ("GET", _WS + "/jobs", "LIST jobs", "list_jobs"),
    ("GET", _WS + "/jobs/{name}", "GET jobs", "get_job"),
    ("PUT", _WS + "/jobs/{name}", "PUT jobs", "put_job"),
    ("DELETE", _WS + "/jobs/{name}", "DELETE jobs", "delete_job"),
    ("POST", _WS + "/jobs/{name}/cancel", "POST jobs/cancel", "cancel_job"),
    ("GET", _OPERATION, "GET operationResults", "get_operation"),
    ("GET", _RUN, "GET runs", "get_run"),
    ("GET", _RUN + "/details", "GET runs/details", "get_run_details"),
    ("GET", _RUN + "/children", "GET runs/children", "get_run_children"),
]


def _compile(template: str) -> re.Pattern[str]:
    def group(match: re.Match[str]) -> str:
        name = match[1]
        return f"(?P<{name}>{'codes|environments' if name == 'kind' else '[^/]+'})"

    # ARM paths are case-insensitive (resourcegroups, microsoft.machinelearningservices).
    return re.compile(re.sub(r"\\\{(\w+)\\\}", group, re.escape(template)) + "$", re.IGNORECASE)


_COMPILED = [(method, _compile(t), operation, handler) for method, t, operation, handler in _ROUTES]


class AzureMLServer:
    """The Azure ML test server for one workspace; see the module docstring."""

    def __init__(
        self,
        azurite: AzuriteServer,
        subscription_id: str = "9d5e6a4c-0000-4000-8000-00000000c0de",
        resource_group: str = "mlx-rg",
        workspace: str = "mlx-ws",
        location: str = "eastus",
    ) -> None:
        self.azurite = azurite
        self.subscription_id, self.resource_group = subscription_id, resource_group
        self.workspace, self.location = workspace, location
        # Cloud names are process-global in azure-ai-ml and cannot be redefined: one per server.
        self.cloud_name = f"mlx-test-{uuid.uuid4().hex[:12]}"
        self.plan = FaultPlan()
        self._lock = threading.RLock()
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._containers: list[str] = []
        self.runs: Optional[AzureRuns] = None  # executing mode (``execute_jobs``)
        self.reset()

    # --- lifecycle and client settings -----------------------------------------------------

    def start(self) -> AzureMLServer:
        self._httpd = QuietHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True  # idle keep-alive connections must not block stop()
        self._httpd.app = self  # type: ignore[attr-defined]
        serve = partial(self._httpd.serve_forever, poll_interval=0.05)  # a quick shutdown()
        threading.Thread(target=serve, name="azureml-test-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop_runs()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def cloud_metadata(self) -> dict[str, str]:
        """The six keys ``MLClient(cloud_metadata=...)`` requires; all point at this server."""
        metadata = dict.fromkeys(
            ("azure_portal", "resource_manager", "active_directory", "aml_resource_id"),
            self.url + "/",
        )
        metadata["registry_discovery_endpoint"] = self.url + "/"
        # Only for storage URLs the SDK builds itself (https://<account>.blob.<suffix>).
        metadata["storage_endpoint"] = "core.windows.net"
        return metadata

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that point an ``MLClient`` here (see azure_fixtures)."""
        return {
            "cloud": self.cloud_name,
            "cloud_metadata": self.cloud_metadata,
            "authentication_policy": static_token_policy(),
            "enable_telemetry": False,
            "show_progress": False,
        }

    @property
    def workspace_arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{_PROVIDER}/workspaces/{self.workspace}"
        )

    def _arm_id(self, kind: str, name: str, version: Optional[str] = None) -> str:
        arm_id = f"{self.workspace_arm_id}/{kind}/{name}"
        return f"{arm_id}/versions/{version}" if version else arm_id

    # --- state and test controls -------------------------------------------------------------

    def reset(self) -> None:
        """A fresh workspace: no jobs, assets, requests or faults; new, empty containers;
        jobs are not executed (``execute_jobs``), and any still running are stopped."""
        self._stop_runs()
        with self._lock:
            self.jobs: dict[str, JSON] = {}  # name -> the ARM job document
            self.assets: dict[tuple[str, str, str], JSON] = {}  # (kind, name, version) -> doc
            self.children: dict[str, list[JSON]] = {}  # sweep name -> run-history Runs
            self.status_log: dict[str, list[str]] = {}  # name -> every status it had
            self.computes: dict[str, JSON] = {}
            self._runs: dict[str, JSON] = {}  # run-history fields of jobs: times, error
            self._requests: list[Request] = []
            self.workspace_id = str(uuid.uuid4())
            self.page_size = 50  # lists are paged, so clients must follow nextLink
            self.auto_cancel = True  # a cancel completes on the first poll of its operation
        self.plan.clear()
        self._drop_containers()
        self.blob_container = self._new_container(f"azureml-blobstore-{self.workspace_id}")
        self.artifact_container = self._new_container(f"azureml-{self.workspace_id}")
        self.add_compute("cpu-cluster", "Standard_DS3_v2")
        self.add_compute("gpu-cluster", "Standard_NC6s_v3")

    def execute_jobs(self, runtime: Runtime, workspace: Path) -> AzureRuns:
        """From now on (until ``reset``), a created job really runs: mlx's Azure ML runner
        executes it with ``runtime``, in folders under ``workspace`` (``azureml_runs``)."""
        self.runs = AzureRuns(self, runtime, workspace)
        self.auto_cancel = False  # a cancel ends when the runner has stopped the job
        return self.runs

    def _stop_runs(self) -> None:
        runs, self.runs = getattr(self, "runs", None), None
        if runs is not None:
            runs.stop_all()

    def _new_container(self, name: str) -> str:
        self.azurite.create_container(name)
        self._containers.append(name)
        return name

    def _drop_containers(self) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        client = self.azurite.service_client()
        for name in self._containers:
            with suppress(ResourceNotFoundError):  # the azurite fixture may have emptied it
                client.delete_container(name)
        self._containers = []

    def requests(self, pattern: str = "*") -> list[Request]:
        """Requests whose operation (``"PUT jobs"``, ``"GET runs/details"``) matches the glob."""
        with self._lock:
            return [r for r in self._requests if fnmatch.fnmatchcase(r.operation, pattern)]

    def set_status(self, name: str, status: str, error: Optional[str] = None) -> None:
        """Move job (or child run) ``name`` to ``status``; ``error`` is the failure message."""
        with self._lock:
            run = self._runs.get(name) or self._child(name)
            if run is None:
                raise KeyError(f"no job or child run named {name!r}")
            problem = transition_problem(run["status"], status)
            if problem:  # the test plays a job the service would never report
                raise ValueError(f"{name}: {problem}")
            if name in self.jobs:
                self.jobs[name]["properties"]["status"] = status
            run["status"] = status
            if status not in ("NotStarted", "Queued"):
                run.setdefault("startTimeUtc", _now())
            if status in _FINAL:
                run["endTimeUtc"] = _now()
            if error:
                run["error"] = {"error": {"code": "UserError", "message": error}}
            self.status_log.setdefault(name, []).append(status)

    def add_compute(
        self, name: str, vm_size: str, max_nodes: int = 4, priority: str = "Dedicated"
    ) -> None:
        """Register an AmlCompute cluster; jobs naming another compute are rejected (400).

        ``priority`` is the cluster's ``vmPriority``, ``Dedicated`` or ``LowPriority``
        (azure-ai-ml 1.35.2 ``_restclient/arm_ml_service/models/_enums.py``, VmPriority):
        low priority is chosen per cluster, not per job.
        """
        if priority not in ("Dedicated", "LowPriority"):
            raise ValueError(f"vmPriority is Dedicated or LowPriority, not {priority!r}")
        cluster = {"vmSize": vm_size, "vmPriority": priority}
        cluster["scaleSettings"] = {"minNodeCount": 0, "maxNodeCount": max_nodes}
        self.computes[name] = {
            "id": self._arm_id("computes", name),
            "name": name,
            "type": f"{_PROVIDER}/workspaces/computes",
            "location": self.location,
            "properties": {
                "computeType": "AmlCompute",
                "provisioningState": "Succeeded",
                "computeLocation": self.location,
                "properties": cluster,
            },
        }

    def add_child_runs(self, sweep_name: str, runs: list[JSON]) -> list[str]:
        """Add trials under a sweep job; each dict is a run-history Run merged over defaults.

        Defaults: ``runId`` ``<sweep>_<n>``, ``status`` Completed, parent and root ids.
        Put trial hyperparameters and metrics where the test's reader expects them (for
        example ``properties``/``tags``): the real service's layout is not modelled.
        """
        with self._lock:
            trials = self.children.setdefault(sweep_name, [])
            experiment = self.jobs[sweep_name]["properties"]["experimentName"]
            added = []
            for run in runs:
                run_id = run.get("runId") or f"{sweep_name}_{len(trials)}"
                trials.append({**_run_defaults(run_id, sweep_name, experiment), **run})
                added.append(run_id)
            return added

    def artifact_prefix(self, name: str) -> str:
        """Where a job's logs and outputs live in ``artifact_container`` (as on Azure)."""
        return f"ExperimentRun/dcid.{name}"

    def write_log(self, name: str, text: str, path: str = "user_logs/std_log.txt") -> str:
        """Append ``text`` to a job's log blob (an append blob, as Azure ML writes them)."""
        blob = self.azurite.service_client().get_blob_client(
            self.artifact_container, f"{self.artifact_prefix(name)}/{path}"
        )
        if not blob.exists():
            blob.create_append_blob()
        blob.append_block(text.encode())
        return blob.blob_name

    # --- dispatch -------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Route one request, record it, apply a fault if one is due, answer."""
        url = urlsplit(target)
        path, query = unquote(url.path).rstrip("/"), dict(parse_qsl(url.query))
        handler, operation, params = self._route(method, path)
        request = Request(operation, method, path, query, headers, body)
        with self._lock:
            self._requests.append(request)
        fault = self.plan.take(operation)
        reply = _fault_reply(fault) if fault else None
        if reply is None:
            reply = self._answer(handler, request, params)
        if fault and fault.kind == "reset":  # the server acted; the client loses the answer
            reply.reset_after = fault.after_bytes
        request.status = reply.status
        return reply

    def _route(self, method: str, path: str) -> tuple[Optional[Handler], str, dict[str, str]]:
        for verb, pattern, operation, name in _COMPILED:
            match = pattern.match(path)
            if verb == method and match:
                params = match.groupdict()
                return getattr(self, name), operation.format(**params), params
        return None, f"{method} {path}", {}

    def _answer(
        self, handler: Optional[Handler], request: Request, params: dict[str, str]
    ) -> Reply:
        if handler is None:
            return _error(404, "NoRouteMatch", f"test server: no route for {request.operation}")
        if request.operation != "GET discovery":  # the SDK fetches discovery without a token
            if not request.headers.get("authorization", "").startswith("Bearer "):
                return _error(401, "AuthenticationFailed", "missing bearer token")
            if "api-version" not in request.query:  # ARM and run history both insist
                return _error(400, "MissingApiVersionParameter", "api-version is required")
            wanted = {"sub": self.subscription_id, "rg": self.resource_group, "ws": self.workspace}
            for key, value in wanted.items():
                got = params.pop(key, value)
                if got.lower() != value.lower():
                    return _error(404, "ResourceNotFound", f"{got} not found")
        params.pop("loc", None)
        return handler(request, **params)

    # --- ARM: discovery, workspace, datastores, computes ---------------------------------------

    def get_discovery(self, request: Request) -> Reply:
        # The SDK reads "api" (run history); the rest keep every client on this server.
        keys = ("api", "catalog", "experimentation", "gallery", "history", "hyperdrive")
        keys += ("labeling", "modelmanagement", "pipelines", "studio")
        return Reply(200, dict.fromkeys(keys, self.url))

    def get_workspace(self, request: Request) -> Reply:
        host = self.url.split("://", 1)[1]
        storage = f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
        storage += f"/providers/Microsoft.Storage/storageAccounts/{DEV_ACCOUNT}"
        properties = {
            "friendlyName": self.workspace,
            "workspaceId": self.workspace_id,
            "provisioningState": "Succeeded",
            "discoveryUrl": f"{self.url}/discovery",
            "mlFlowTrackingUri": f"azureml://{host}/mlflow/v1.0{self.workspace_arm_id}",
            "storageAccount": storage,
            "publicNetworkAccess": "Enabled",
        }
        workspace = {"id": self.workspace_arm_id, "name": self.workspace, "kind": "Default"}
        workspace.update(type=f"{_PROVIDER}/workspaces", location=self.location)
        return Reply(200, {**workspace, "properties": properties})

    def _datastore(self, name: str) -> Optional[JSON]:
        """workspaceblobstore (default) and workspaceartifactstore (job logs), in Azurite."""
        containers = {"workspaceblobstore": self.blob_container}
        containers["workspaceartifactstore"] = self.artifact_container
        if name not in containers:
            return None
        properties = {"datastoreType": "AzureBlob", "accountName": DEV_ACCOUNT}
        properties.update(containerName=containers[name], endpoint="core.windows.net")
        properties.update(protocol="https", credentials={"credentialsType": "AccountKey"})
        properties.update(isDefault=name == "workspaceblobstore")
        return {"id": self._arm_id("datastores", name), "name": name, "properties": properties}

    def list_datastores(self, request: Request) -> Reply:
        stores = [self._datastore(n) for n in ("workspaceblobstore", "workspaceartifactstore")]
        if request.query.get("isDefault", "").lower() == "true":
            stores = [s for s in stores if s and s["properties"]["isDefault"]]
        return Reply(200, {"value": stores})

    def get_datastore(self, request: Request, name: str) -> Reply:
        store = self._datastore(name)
        return Reply(200, store) if store else _not_found(f"datastore {name}")

    def list_secrets(self, request: Request, name: str) -> Reply:
        return Reply(200, {"secretsType": "AccountKey", "key": DEV_KEY})

    def get_compute(self, request: Request, name: str) -> Reply:
        compute = self.computes.get(name)
        return Reply(200, compute) if compute else _not_found(f"compute {name}")

    # --- ARM: versioned assets (code, environments) ---------------------------------------------

    def put_asset(self, request: Request, kind: str, name: str, version: str) -> Reply:
        properties = {
            **(request.json or {}).get("properties", {}),
            "provisioningState": "Succeeded",
        }
        doc = {"id": self._arm_id(kind, name, version), "name": version, "properties": properties}
        doc["systemData"] = {"createdAt": _now(), "createdBy": "mlx-test"}
        with self._lock:
            created = (kind, name, version) not in self.assets
            self.assets[(kind, name, version)] = doc
        return Reply(201 if created else 200, doc)

    def get_asset(self, request: Request, kind: str, name: str, version: str) -> Reply:
        doc = self.assets.get((kind, name, version))
        return Reply(200, doc) if doc else _not_found(f"{kind} {name}:{version}")

    def list_assets(self, request: Request, kind: str, name: str) -> Reply:
        # The SDK looks code up by content hash under a fresh random name, to skip uploading
        # unchanged code: a hash query matches versions of any name.
        wanted = request.query.get("hash")
        with self._lock:
            found = [
                doc
                for (k, n, _), doc in self.assets.items()
                if k == kind and (n == name if wanted is None else _content_hash(doc) == wanted)
            ]
        return Reply(200, {"value": found})

    def start_upload(self, request: Request, kind: str, name: str, version: str) -> Reply:
        """A temporary container and a SAS URL for it: the SDK uploads the code itself."""
        container = self._new_container(f"code-{uuid.uuid4().hex}")
        credential = {"credentialType": "SAS", "sasUri": self.azurite.container_sas_url(container)}
        blob = {"blobUri": f"{self.azurite.url}/{container}", "credential": credential}
        upload = {"pendingUploadId": uuid.uuid4().hex, "blobReferenceForConsumption": blob}
        return Reply(200, {**upload, "pendingUploadType": "TemporaryBlobReference"})

    # --- ARM: jobs ---------------------------------------------------------------------------

    def put_job(self, request: Request, name: str) -> Reply:
        props = (request.json or {}).get("properties") or {}
        problem = self._invalid_job(name, request.json or {})
        if problem:
            return _error(400, "UserError", problem)
        with self._lock:
            if name in self.jobs:  # only metadata can change on an existing job
                existing = self.jobs[name]["properties"]
                for key in ("tags", "description", "displayName", "isArchived"):
                    if key in props:
                        existing[key] = props[key]
                return Reply(200, self.jobs[name])
            self.jobs[name] = self._new_job(name, props)
            experiment = self.jobs[name]["properties"]["experimentName"]
            self._runs[name] = _run_defaults(name, None, experiment)
            self.status_log[name] = ["NotStarted"]
            if self.runs is not None:
                self.runs.start(name, self.jobs[name])
            return Reply(201, self.jobs[name])

    def _invalid_job(self, name: str, body: JSON) -> Optional[str]:
        """The 400s Azure ML gives: the job's own rules (``azureml_rules``: the REST model,
        azure-ai-ml's schemas, the documented limits), and a compute of this workspace."""
        props = body.get("properties") or {}
        job_type = props.get("jobType")
        if job_type not in ("Command", "Sweep", "Pipeline"):
            return f"unsupported jobType {job_type!r}"
        compute = (props.get("computeId") or "").rsplit("/", 1)[-1]
        if compute and compute not in self.computes:
            return f"Compute {compute} not found in workspace {self.workspace}"
        if job_type == "Command" and not (props.get("command") and props.get("environmentId")):
            return "a command job needs command and environmentId"
        needed = ("trial", "objective", "samplingAlgorithm", "searchSpace")
        missing = [key for key in needed if key not in props]
        if job_type == "Sweep" and missing:
            return f"a sweep job needs {missing}"
        return job_problem(name, body)

    def _new_job(self, name: str, props: JSON) -> JSON:
        """What the service adds to a submitted job: id, status, services, output URIs."""
        artifacts = f"azureml://datastores/workspaceartifactstore/{self.artifact_prefix(name)}"
        outputs = {"default": {"jobOutputType": "uri_folder", "uri": artifacts}}
        for key, output in (props.get("outputs") or {}).items():
            uri = f"azureml://datastores/workspaceblobstore/paths/azureml/{name}/{key}/"
            outputs[key] = {**output, "uri": output.get("uri") or uri} if output else output
        studio = f"{self.url}/studio/runs/{name}?wsid={self.workspace_arm_id}"
        properties = {**props, "outputs": outputs, "status": "NotStarted"}
        properties["experimentName"] = props.get("experimentName") or "Default"
        properties["services"] = {"Studio": {"jobServiceType": "Studio", "endpoint": studio}}
        doc = {"id": self._arm_id("jobs", name), "name": name, "properties": properties}
        doc["systemData"] = {"createdAt": _now(), "createdBy": "mlx-test"}
        return doc

    def get_job(self, request: Request, name: str) -> Reply:
        doc = self.jobs.get(name)
        return Reply(200, doc) if doc else _not_found(f"job {name}")

    def list_jobs(self, request: Request) -> Reply:
        """Newest first; filters jobType, tag and listViewType as the service does."""
        query = request.query
        with self._lock:
            docs = sorted(self.jobs.values(), key=lambda d: d["systemData"]["createdAt"])[::-1]
        view = query.get("listViewType", "ActiveOnly")
        if view != "All":
            archived = view == "ArchivedOnly"
            docs = [d for d in docs if bool(d["properties"].get("isArchived")) == archived]
        if "jobType" in query:
            docs = [d for d in docs if d["properties"]["jobType"] == query["jobType"]]
        if "tag" in query:
            docs = [d for d in docs if query["tag"] in (d["properties"].get("tags") or {})]
        return Reply(200, self._page(docs, request, "$skipToken"))

    def _page(self, items: list[JSON], request: Request, token_name: str) -> JSON:
        """One page of ``items`` and, when more remain, a ``nextLink`` that continues it."""
        start = int(request.query.get(token_name) or 0)
        end = start + self.page_size
        page: JSON = {"value": items[start:end]}
        if end < len(items):
            query = urlencode({**request.query, token_name: str(end)})
            page["nextLink"] = f"{self.url}{quote(request.path)}?{query}"
            if token_name == "$continuationtoken":  # run history also returns the bare token
                page["continuationToken"] = str(end)
        return page

    def delete_job(self, request: Request, name: str) -> Reply:
        with self._lock:
            found = self.jobs.pop(name, None)
        return Reply(200 if found else 204)

    def cancel_job(self, request: Request, name: str) -> Reply:
        """202 and a Location to poll, as Azure ML answers; the job is CancelRequested."""
        doc = self.jobs.get(name)
        if doc is None:
            return _not_found(f"job {name}")
        if doc["properties"]["status"] not in _FINAL:  # cancelling an ended job does nothing
            self.set_status(name, "CancelRequested")
            if self.runs is not None:
                self.runs.cancel(name)
        location = f"{self.url}/subscriptions/{self.subscription_id}/providers/{_PROVIDER}"
        location += f"/locations/{self.location}/mfeOperationResults/jc:{self.workspace_id}:{name}"
        location += f"?api-version={request.query.get('api-version', '')}"
        return Reply(202, None, {"Location": location, "Retry-After": "0"})

    def get_operation(self, request: Request, op: str) -> Reply:
        """Finish a cancel: 200 once the job is Canceled (at once when ``auto_cancel``)."""
        name = op.split(":", 2)[-1]
        doc = self.jobs.get(name)
        if doc is None:
            return _not_found(f"operation {op}")
        if doc["properties"]["status"] == "CancelRequested" and self.auto_cancel:
            self.set_status(name, "Canceled")
        if doc["properties"]["status"] == "CancelRequested":
            return Reply(202, None, {"Retry-After": "1"})
        return Reply(200)

    # --- run history (the "api" URL of discovery) ---------------------------------------------

    def _child(self, run_id: str) -> Optional[JSON]:
        runs = (run for trials in self.children.values() for run in trials)
        return next((run for run in runs if run["runId"] == run_id), None)

    def _as_run(self, name: str) -> Optional[JSON]:
        """A job as run history shows it, or a child run as stored."""
        with self._lock:
            doc, run = self.jobs.get(name), self._runs.get(name)
            if doc is None or run is None:
                return self._child(name)
            props = doc["properties"]
            extra = {"displayName": props.get("displayName"), "tags": props.get("tags") or {}}
            return {**run, **extra, "properties": props.get("properties") or {}}

    def get_run(self, request: Request, name: str) -> Reply:
        run = self._as_run(name)
        return Reply(200, run) if run else _not_found(f"run {name}")

    def get_run_details(self, request: Request, name: str) -> Reply:
        """Run details with ``logFiles``: SAS URLs of the run's log blobs in Azurite."""
        run = self._as_run(name)
        if run is None:
            return _not_found(f"run {name}")
        prefix = self.artifact_prefix(name) + "/"
        container = self.azurite.service_client().get_container_client(self.artifact_container)
        logs = {
            blob.name[len(prefix) :]: self.azurite.blob_sas_url(self.artifact_container, blob.name)
            for blob in container.list_blobs(name_starts_with=prefix)
            if blob.name[len(prefix) :].startswith(_LOG_DIRS)
        }
        keys = ("runId", "runUuid", "parentRunId", "status", "startTimeUtc", "endTimeUtc")
        details = {key: run.get(key) for key in (*keys, "error", "properties", "tags")}
        return Reply(200, {**details, "logFiles": logs})

    def get_run_children(self, request: Request, name: str) -> Reply:
        if name not in self.jobs:
            return _not_found(f"run {name}")
        with self._lock:
            runs = list(self.children.get(name, []))
        top = request.query.get("$top")
        return Reply(
            200, self._page(runs[: int(top)] if top else runs, request, "$continuationtoken")
        )


def _run_defaults(run_id: str, parent: Optional[str], experiment: str) -> JSON:
    """The run-history fields every run has."""
    return {
        "runId": run_id,
        "runUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, run_id)),
        "parentRunId": parent,
        "rootRunId": parent or run_id,
        "experimentId": experiment,
        "status": "Completed" if parent else "NotStarted",
        "createdUtc": _now(),
        "properties": {},
        "tags": {},
    }


def static_token_policy(token: str = TEST_TOKEN) -> Any:
    """An azure-core policy that sends ``Authorization: Bearer <token>``, http or https.

    azure-core's BearerTokenCredentialPolicy (and ARM's challenge policy) refuse to send a
    token over plain http; passing this as ``authentication_policy=`` replaces them.
    """
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class StaticTokenPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
        def on_request(self, request: Any) -> None:
            # MLClient passes enforce_https=False down to http endpoints' operations; the
            # bearer policy we replace consumes it, else it reaches requests.Session and fails.
            request.context.options.pop("enforce_https", None)
            request.http_request.headers["Authorization"] = f"Bearer {token}"

    return StaticTokenPolicy()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as azure-core's connection pool expects
    timeout = 60  # idle keep-alive connections end on their own

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        app: AzureMLServer = self.server.app  # type: ignore[attr-defined]
        reply = app.handle(self.command, self.path, headers, body)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.end_headers()
        if reply.reset_after is None:
            self.wfile.write(payload)
            return
        self.wfile.write(payload[: reply.reset_after])
        self.wfile.flush()
        # SO_LINGER 0: close() sends RST, so the client sees a reset, not a clean EOF.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve
