"""A Vertex AI JobService test server: the v1 REST surface mlx uses, on the real protos.

No Vertex emulator exists. ``aiplatform_v1.JobServiceClient(transport="rest")`` accepts an
``http://127.0.0.1:PORT`` api_endpoint, so this server answers the URLs that transport
sends (``/v1/projects/{p}/locations/{l}/customJobs[/{id}][:cancel]``, the same for
``hyperparameterTuningJobs``) and parses bodies with ``CustomJob.from_json(...,
ignore_unknown_fields=False)``, so a misspelt field fails here as it fails on Vertex.

By default jobs never run: tests drive them with ``set_state`` (or ``auto_advance``), set
tuning ``trials``, read ``requests(rpc)``, ask what a trial's container runs
(``trial_container``) and add faults to ``plan``. With an ``executor`` attached
(``vertex_runs.VertexRuns``, the ``vertex_runs`` fixture) every created job really runs
through mlx's Vertex platform runner, and its cancel stops it.

Beyond the proto, the server enforces the documented rules mlx's requests meet, each cited
beside its check: the boot disk type per machine family (``_disk_problems``), and, with
``PROTO_SINCE``, the google-cloud-aiplatform release from which each field mlx sends is in
the proto: run under ``tests/constraints-lowest.txt`` the strict parse is that release's.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler
from importlib.metadata import version
from typing import Any, Callable, Optional, Union
from urllib.parse import parse_qsl, unquote, urlsplit

from google.cloud import aiplatform_v1
from google.protobuf import json_format
from google.rpc import status_pb2

from tests.emulators.cloud_logging import FilterError, compare, compile_filter, parse_time
from tests.emulators.faults import Fault, FaultPlan, QuietHTTPServer

Job = Union[aiplatform_v1.CustomJob, aiplatform_v1.HyperparameterTuningJob]

# collection in the URL -> (RPC noun, message class, list response class, list field)
_KINDS: dict[str, tuple[str, type, type, str]] = {
    "customJobs": (
        "CustomJob",
        aiplatform_v1.CustomJob,
        aiplatform_v1.ListCustomJobsResponse,
        "custom_jobs",
    ),
    "hyperparameterTuningJobs": (
        "HyperparameterTuningJob",
        aiplatform_v1.HyperparameterTuningJob,
        aiplatform_v1.ListHyperparameterTuningJobsResponse,
        "hyperparameter_tuning_jobs",
    ),
}
_TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Vertex label rules: lowercase letters, digits, '_' and '-'; keys start with a letter.
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
# The google-cloud-aiplatform release whose aiplatform_v1 first has each field or enum
# value mlx sends that older releases lack (read in each wheel's aiplatform_v1/types/*.py:
# custom_job.py for Scheduling, accelerator_type.py). A request with one fails the strict
# parse of any older proto, so pyproject's minimum must be at least the newest of these
# (tests/emulators/test_gcp.py checks it; tests/lowest/run parses with the minimum).
PROTO_SINCE = {
    "Scheduling.strategy": "1.61.0",  # resources.spot
    "Scheduling.Strategy.SPOT": "1.62.0",  # 1.61 has only ON_DEMAND and LOW_COST
    "AcceleratorType.NVIDIA_H200_141GB": "1.93.0",  # the catalog's H200 (a3-ultragpu-8g)
}
# DiskSpec.boot_disk_type: 'Valid values: "pd-ssd" (Persistent Disk Solid State Drive),
# "pd-standard" (Persistent Disk Hard Disk Drive) or "hyperdisk-balanced"'; the default is
# "pd-ssd", "hyperdisk-balanced" on A3U machines
# (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/DiskSpec).
_BOOT_DISK_TYPES = ("pd-ssd", "pd-standard", "hyperdisk-balanced")
# Compute Engine: A3 Ultra (H200) and A4 (B200) VMs take Hyperdisk only, no Persistent Disk
# (https://cloud.google.com/compute/docs/accelerator-optimized-machines, supported disk
# types of each series); N1 (with or without GPUs) and E2 support no Hyperdisk type ("If a
# machine series doesn't support Hyperdisk, use Persistent Disk",
# https://cloud.google.com/compute/docs/disks/hyperdisks#machine-type-support).
_HYPERDISK_ONLY = ("a3-ultragpu-", "a4-highgpu-")
_NO_HYPERDISK = ("n1-", "e2-")
_DEFAULT_ERROR = {
    "code": 3,
    "message": "The replica workerpool0-0 exited with a non-zero status of 1.",
}


class ApiError(Exception):
    """An error answer in the google.rpc shape ``api_core.exceptions`` parses."""

    def __init__(
        self, status: int, message: str, *, code: str = "", details: Optional[list] = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []
        self.code = code or _STATUS_NAMES.get(status, "UNKNOWN")

    def body(self) -> bytes:
        error = {"code": self.status, "message": self.message, "status": self.code}
        if self.details:
            error["details"] = self.details
        return json.dumps({"error": error}).encode()


def _bad_request(message: str, violations: list[tuple[str, str]]) -> ApiError:
    fields = [{"field": f, "description": d} for f, d in violations]
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": fields}]
    return ApiError(400, message, details=details)


@dataclass(frozen=True)
class _Call:
    rpc: str  # CreateCustomJob, GetHyperparameterTuningJob, ...
    handler: Callable[..., Any]
    params: dict[str, str]


_COLLECTION = (
    r"/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/(?P<kind>customJobs|hyperparameterTuningJobs)"
)
_ROUTES = [  # (method, path regex, verb, VertexServer method name)
    ("POST", _COLLECTION + "$", "Create", "_create"),
    ("GET", _COLLECTION + "$", "List", "_list"),
    ("GET", _COLLECTION + r"/(?P<id>[^/:]+)$", "Get", "_get"),
    ("POST", _COLLECTION + r"/(?P<id>[^/:]+):cancel$", "Cancel", "_cancel"),
]


class VertexServer:
    """CustomJob and HyperparameterTuningJob create/get/list/cancel on 127.0.0.1."""

    def __init__(self, plan: Optional[FaultPlan] = None, project_number: str = "123456789012"):
        self.plan = plan or FaultPlan()
        # Vertex names jobs with the project *number*, whatever the caller sent.
        self.project_number = project_number
        self.jobs: dict[str, Job] = {}
        self.auto_advance = False  # each GET moves a job one step along ``lifecycle``
        self.lifecycle = ("JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
        self._requests: list[dict[str, Any]] = []
        # Runs created jobs (``start(job_id, kind, body)``, ``cancel(job_id)``,
        # ``running(job_id)``); None: jobs are driven by the tests.
        self.executor: Optional[Any] = None
        self._lock = threading.RLock()
        self._ids = itertools.count(1_000_000_000_000_000_001)
        self._httpd = QuietHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The api_endpoint for ``JobServiceClient``: ``http://127.0.0.1:PORT``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> VertexServer:
        # A short poll interval keeps stop() (shutdown waits for one poll) quick.
        serve = self._httpd.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def reset(self) -> None:
        with self._lock:
            self.jobs.clear()
            self._requests.clear()
            self.auto_advance = False
            self.lifecycle = ("JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
        self.plan.clear()

    # -- test controls -----------------------------------------------------------------

    def requests(self, rpc: str = "*") -> list[dict[str, Any]]:
        """Requests for RPCs matching ``rpc`` (glob): method, path, query, body, headers, fault."""
        with self._lock:
            return [r for r in self._requests if fnmatchcase(r["rpc"], rpc)]

    def set_state(self, job_id: str, state: str, error: Optional[Mapping[str, Any]] = None) -> None:
        """Move a job to ``state`` (a ``JobState`` name); FAILED carries ``error``.

        ``error`` is a google.rpc.Status as a dict, ``{"code": 13, "message": "OOM"}``.
        """
        with self._lock:
            job = self._job(job_id)
            job.state = aiplatform_v1.JobState[state]
            now = datetime.now(timezone.utc)
            job.update_time = now
            if state == "JOB_STATE_RUNNING" and not job.start_time:
                job.start_time = now
            if state in _TERMINAL:
                job.end_time = now
            if state == "JOB_STATE_FAILED" or error:
                job.error = status_pb2.Status(**dict(error or _DEFAULT_ERROR))

    def advance(self, job_id: str) -> str:
        """One step: CANCELLING -> CANCELLED, else the next state in ``lifecycle``."""
        with self._lock:
            state = self._job(job_id).state.name
            if state == "JOB_STATE_CANCELLING":
                self.set_state(job_id, "JOB_STATE_CANCELLED")
            elif state in self.lifecycle[:-1]:
                self.set_state(job_id, self.lifecycle[self.lifecycle.index(state) + 1])
            return self._job(job_id).state.name

    def set_trials(self, job_id: str, trials: Iterable[Union[Mapping[str, Any], Any]]) -> None:
        """Tuning trials, as REST JSON dicts (``{"id": "1", "state": "SUCCEEDED", ...}``)."""
        parsed = [
            t
            if isinstance(t, aiplatform_v1.Trial)
            else aiplatform_v1.Trial.from_json(json.dumps(t))
            for t in trials
        ]
        with self._lock:
            job = self._job(job_id)
            if not isinstance(job, aiplatform_v1.HyperparameterTuningJob):
                raise TypeError(f"job {job_id} is not a HyperparameterTuningJob")
            job.trials = parsed

    def trial_container(
        self, job_id: str, parameters: Mapping[str, str]
    ) -> tuple[list[str], list[str]]:
        """(command, args) the container of a trial with ``parameters`` (id -> the value as
        text) runs: the trial job spec's, with ``--<parameter_id>=<value>`` appended to
        ``args`` (Vertex passes a trial's values to the training code as command-line
        arguments: https://cloud.google.com/vertex-ai/docs/training/hyperparameter-tuning-overview).
        """
        with self._lock:
            job = self._job(job_id)
            if not isinstance(job, aiplatform_v1.HyperparameterTuningJob):
                raise TypeError(f"job {job_id} is not a HyperparameterTuningJob")
            container = job.trial_job_spec.worker_pool_specs[0].container_spec
            appended = [f"--{name}={value}" for name, value in parameters.items()]
            return list(container.command), [*container.args, *appended]

    def _job(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise KeyError(f"no job {job_id!r}; known: {sorted(self.jobs)}") from None

    # -- HTTP plumbing -----------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects
            # Headers and body go out in separate writes; with Nagle on, delayed ACKs
            # add ~40 ms to every keep-alive request.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _any(self) -> None:
                server._handle(self)

            do_GET = do_POST = do_DELETE = do_PATCH = _any

        return Handler

    def _route(self, method: str, path: str) -> Optional[_Call]:
        for verb_method, pattern, verb, name in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match and verb_method == method:
                noun = _KINDS[match["kind"]][0]
                rpc = f"{verb}{noun}s" if verb == "List" else f"{verb}{noun}"
                return _Call(rpc, getattr(self, name), match.groupdict())
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        query = dict(parse_qsl(url.query))
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        call = self._route(h.command, unquote(url.path))
        rpc = call.rpc if call else f"{h.command} {url.path}"
        fault = self.plan.take(rpc)
        self._record(rpc, h, query, body, fault)
        if fault and fault.kind == "reset" and not fault.after_bytes:
            return _reset(h)  # no answer at all
        if fault and fault.kind == "slow":
            time.sleep(fault.delay)
        try:
            if fault and fault.kind in ("throttle", "error"):
                raise _fault_error(fault)
            if call is None:
                raise ApiError(501, f"the Vertex test server does not serve {h.command} {url.path}")
            status, payload = 200, call.handler(call.params, query, body)
        except ApiError as e:
            status, payload = e.status, e.body()
        # A reset with after_bytes runs the call (a Create does create) and cuts the answer.
        cut = fault.after_bytes if fault and fault.kind == "reset" else None
        _send(h, status, payload, cut=cut)

    def _record(
        self, rpc: str, h: BaseHTTPRequestHandler, query: dict, body: bytes, fault: Optional[Fault]
    ) -> None:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode(errors="replace")
        record = {
            "rpc": rpc,
            "method": h.command,
            "path": urlsplit(h.path).path,
            "query": query,
            "body": parsed,
            "headers": dict(h.headers.items()),
            "fault": fault.kind if fault else None,
        }
        with self._lock:
            self._requests.append(record)

    # -- the RPCs ----------------------------------------------------------------------

    def _create(self, params: dict[str, str], query: dict[str, str], body: bytes) -> bytes:
        _noun, cls, _resp, _field = _KINDS[params["kind"]]
        try:
            job = cls.from_json(body or b"{}", ignore_unknown_fields=False)
        except json_format.ParseError as e:
            # Vertex's own wording for an unknown or mistyped JSON field.
            message = f"Invalid JSON payload received. {e}"
            raise _bad_request(message, [(_noun, str(e))]) from None
        violations = _validate(job)
        if violations:
            raise _bad_request(
                "List of found errors: " + "; ".join(d for _, d in violations), violations
            )
        with self._lock:
            job_id = str(next(self._ids))
            parent = f"projects/{self.project_number}/locations/{params['location']}"
            _initialise(job, f"{parent}/{params['kind']}/{job_id}")
            self.jobs[job_id] = job
            answer = _to_json(job, query)
        if self.executor is not None:
            self.executor.start(job_id, params["kind"], json.loads(body or b"{}"))
        return answer

    def _get(self, params: dict[str, str], query: dict[str, str], body: bytes) -> bytes:
        with self._lock:
            job = self._lookup(params)
            answer = _to_json(job, query)
            # Step after answering, so callers see each state once (CANCELLING included);
            # a job that really runs ends when its containers have stopped.
            if self._executing(params["id"]):
                return answer
            if job.state.name == "JOB_STATE_CANCELLING" or self.auto_advance:
                self.advance(params["id"])
            return answer

    def _cancel(self, params: dict[str, str], query: dict[str, str], body: bytes) -> bytes:
        with self._lock:
            job = self._lookup(params)
            if job.state.name in _TERMINAL:
                message = f"Cannot cancel {job.name}: it is in state {job.state.name}."
                raise ApiError(400, message, code="FAILED_PRECONDITION")
            if job.state.name != "JOB_STATE_CANCELLING":
                self.set_state(params["id"], "JOB_STATE_CANCELLING")
        if self._executing(params["id"]):
            self.executor.cancel(params["id"])  # type: ignore[union-attr]
        return b"{}"  # google.protobuf.Empty

    def _executing(self, job_id: str) -> bool:
        return self.executor is not None and self.executor.running(job_id)

    def _list(self, params: dict[str, str], query: dict[str, str], body: bytes) -> bytes:
        _noun, cls, response_cls, field = _KINDS[params["kind"]]
        flt = _compile_job_filter(query.get("filter", ""))
        size = int(query.get("pageSize") or 100)
        start = _decode_token(query.get("pageToken", ""))
        with self._lock:
            jobs = [
                j
                for j in self.jobs.values()
                if isinstance(j, cls)
                and _in_location(j, params["location"])
                and flt.matches(_job_test(j))
            ]
            # Newest first, as the console and gcloud show them.
            jobs.sort(key=lambda j: int(j.name.rsplit("/", 1)[1]), reverse=True)
            page = jobs[start : start + size]
            token = str(start + size) if start + size < len(jobs) else ""
            return _to_json(response_cls(**{field: page, "next_page_token": token}), query)

    def _lookup(self, params: dict[str, str]) -> Job:
        noun, cls, _resp, _field = _KINDS[params["kind"]]
        job = self.jobs.get(params["id"])
        if not isinstance(job, cls) or not _in_location(job, params["location"]):
            raise ApiError(404, f"{noun} {params['id']} does not exist.")
        return job


# -- helpers ---------------------------------------------------------------------------


def _in_location(job: Job, location: str) -> bool:
    # Any project id or number reaches the one project this server holds.
    return f"/locations/{location}/" in job.name


def _initialise(job: Job, name: str) -> None:
    """Fill the output-only fields Vertex sets on create, and drop any the caller sent."""
    output_only = ["state", "start_time", "end_time", "error", "web_access_uris", "trials"]
    for field in output_only:
        if field in type(job).meta.fields and field in job:
            delattr(job, field)
    now = datetime.now(timezone.utc)
    job.name, job.create_time, job.update_time = name, now, now
    job.state = aiplatform_v1.JobState.JOB_STATE_PENDING


def _to_json(message: Any, query: dict[str, str]) -> bytes:
    # The REST transport asks for `$alt=json;enum-encoding=int`; the real service obliges.
    numeric = "enum-encoding=int" in query.get("$alt", "")
    to_json = type(message).to_json
    text = to_json(
        message,
        use_integers_for_enums=numeric,
        always_print_fields_with_no_presence=False,  # defaults omitted, as the service does
        indent=None,
    )
    return text.encode()


def _validate(job: Job) -> list[tuple[str, str]]:
    """The checks Vertex makes on create that the proto schema does not express."""
    problems = []
    if not job.display_name:
        problems.append(("display_name", "display_name must be set."))
    elif len(job.display_name) > 128:
        problems.append(("display_name", "display_name must be at most 128 characters."))
    problems += _validate_labels(job.labels)
    if isinstance(job, aiplatform_v1.CustomJob):
        return problems + _validate_pools("job_spec", job.job_spec)
    study = job.study_spec
    if not study.metrics:
        problems.append(("study_spec.metrics", "study_spec.metrics must be set."))
    if not study.parameters:
        problems.append(("study_spec.parameters", "study_spec.parameters must be set."))
    for field in ("max_trial_count", "parallel_trial_count"):
        if getattr(job, field) <= 0:
            problems.append((field, f"{field} must be greater than 0."))
    return problems + _validate_pools("trial_job_spec", job.trial_job_spec)


def _validate_labels(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    problems = []
    if len(labels) > 64:
        problems.append(("labels", "at most 64 labels are allowed."))
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            why = "keys: [a-z][a-z0-9_-]{0,62}; values: [a-z0-9_-]{0,63}"
            problems.append((f"labels.{key}", f"invalid label {key}={value!r} ({why})."))
    return problems


def _validate_pools(where: str, spec: aiplatform_v1.CustomJobSpec) -> list[tuple[str, str]]:
    pools = spec.worker_pool_specs
    if not pools:
        return [(f"{where}.worker_pool_specs", "worker_pool_specs must be set.")]
    problems = []
    if pools[0].replica_count != 1:
        problems.append((f"{where}.worker_pool_specs[0]", "the first pool needs replica_count 1."))
    for i, pool in enumerate(pools):
        at = f"{where}.worker_pool_specs[{i}]"
        if pool == aiplatform_v1.WorkerPoolSpec():
            continue  # an empty placeholder pool is allowed
        if not pool.machine_spec.machine_type:
            problems.append((f"{at}.machine_spec.machine_type", "machine_type must be set."))
        if not (pool.container_spec.image_uri or pool.python_package_spec.executor_image_uri):
            problems.append((f"{at}.container_spec.image_uri", "a container image must be set."))
        machine = pool.machine_spec
        if machine.accelerator_count and not machine.accelerator_type:
            why = "accelerator_type must be set with accelerator_count."
            problems.append((f"{at}.machine_spec.accelerator_type", why))
        problems += _disk_problems(at, machine.machine_type, pool.disk_spec.boot_disk_type)
    return problems


def _disk_problems(at: str, machine_type: str, disk_type: str) -> list[tuple[str, str]]:
    """The boot disk type must be a valid one the machine family can attach (see
    ``_BOOT_DISK_TYPES``); none sent means the family's default."""
    where = f"{at}.disk_spec.boot_disk_type"
    if not disk_type:
        return []
    if disk_type not in _BOOT_DISK_TYPES:
        return [(where, f"boot_disk_type {disk_type!r} is not one of {_BOOT_DISK_TYPES}.")]
    hyperdisk = disk_type.startswith("hyperdisk-")
    if machine_type.startswith(_HYPERDISK_ONLY) and not hyperdisk:
        why = f"{machine_type} supports only Hyperdisk boot disks, not {disk_type}."
        return [(where, why)]
    if machine_type.startswith(_NO_HYPERDISK) and hyperdisk:
        return [(where, f"{machine_type} does not support {disk_type}.")]
    return []


def proto_version() -> str:
    """The google-cloud-aiplatform release whose protos this server parses with."""
    return version("google-cloud-aiplatform")


_JOB_FIELDS = {"display_name", "state", "create_time", "update_time", "start_time", "end_time"}


def _job_field(job: Job, path: str) -> Any:
    """Fields ListCustomJobs filters on (snake_case, as Vertex documents them)."""
    if path.startswith("labels."):
        return job.labels.get(path[len("labels.") :].strip('"'))
    if path not in _JOB_FIELDS:
        raise FilterError(
            f"unsupported filter field {path!r}; use one of {sorted(_JOB_FIELDS)} or labels.KEY"
        )
    if path == "state":
        return job.state.name
    value = getattr(job, path)
    return value or None


def _job_test(job: Job) -> Callable[[str, str, str], bool]:
    return lambda path, op, value: compare(_job_field(job, path), op, value)


def _compile_job_filter(text: str) -> Any:
    try:
        flt = compile_filter(text)
        blank = aiplatform_v1.CustomJob()
        for path, op, value in flt.comparisons:
            _job_field(blank, path)
            if path == "state" and op != ":" and value not in aiplatform_v1.JobState.__members__:
                raise FilterError(f"unknown state {value!r}")
            if path.endswith("_time") and op not in (":", "=~", "!~"):
                parse_time(value)
        return flt
    except (ValueError, re.error) as e:
        raise ApiError(400, f"Invalid filter {text!r}: {e}") from None


def _decode_token(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise ApiError(400, f"Invalid page token {token!r}.")
    return int(token)


def _fault_error(fault: Fault) -> ApiError:
    # Same convention as proxy.py: a throttle keeps the default status only as 429.
    status = 429 if fault.kind == "throttle" and fault.status == 503 else fault.status
    reason = _STATUS_NAMES.get(status, "UNKNOWN")
    return ApiError(status, fault.message or f"Injected fault: {reason}.")


def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes, *, cut: Optional[int]) -> None:
    h.send_response(status)
    h.send_header("Content-Type", "application/json; charset=UTF-8")
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    if cut is None:
        h.wfile.write(payload)
        return
    h.wfile.write(payload[:cut])  # a reset mid-body: headers promise more than arrives
    h.wfile.flush()
    _reset(h)


def _reset(h: BaseHTTPRequestHandler) -> None:
    """Drop the connection with an RST, as a flaky load balancer does."""
    sock = h.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    h.close_connection = True
    sock.close()
