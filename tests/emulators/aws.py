"""AWS test server: moto on 127.0.0.1 behind a WSGI middleware that fills moto's gaps.

SageMaker, CloudWatch Logs and S3 are reached with plain boto3 over real HTTP through
``AWS_ENDPOINT_URL`` (the ``aws`` fixture in ``aws_fixtures.py`` sets it). The middleware:

- refuses SageMaker requests the real service refuses (``aws_rules``): every length,
  pattern, enum and range of botocore's service model, and the documented rules the model
  does not encode (VolumeKmsKeyId on instance-store types, images outside ECR, Hyperband's
  MaxResource...), answering ``400 ValidationException`` as SageMaker does;
- drives SageMaker job state (``aws_sagemaker.SageMakerJobs``): jobs start ``InProgress``,
  tests move them on; ``Stop*`` and ``ListTrainingJobsForHyperParameterTuningJob`` answer;
  duplicate training job names are refused; ``ListTrainingJobs`` filters, sorts and pages
  as SageMaker does;
- answers ``FilterLogEvents`` itself, as CloudWatch does: ``logStreamNamePrefix``
  honoured, streams interleaved by time, pages of ``log_page_size`` events;
- executes the jobs it accepts, when asked (``execute_jobs``: ``aws_runs.JobRuns`` runs
  each create through mlx's SageMaker runner; ``Stop*`` cancels the run);
- records the parsed body of every JSON-protocol request (``requests("CreateTrainingJob")``);
- injects faults from ``plan`` (a ``faults.FaultPlan``). The operation a fault matches is
  the JSON-protocol action for SageMaker and CloudWatch Logs (``DescribeTrainingJob``,
  ``FilterLogEvents``) and ``"S3 METHOD /path"`` for S3 (``S3 GET /bucket/key``);
- turns any exception (moto's ``NotImplementedError`` for the actions it lacks) into a
  501 answer, which botocore does not retry, instead of a 500, which it retries.
"""

from __future__ import annotations

import bisect
import copy
import io
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Callable, Optional
from urllib.parse import unquote
from xml.sax.saxutils import escape

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.logs.utils import EventMessageFilter
from moto.moto_api._internal.models import moto_api_backend
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mlx.backends.sagemaker.runner import SandboxImage
from tests.emulators import aws_rules
from tests.emulators.aws_runs import JobRuns
from tests.emulators.aws_sagemaker import ApiError, SageMakerJobs
from tests.emulators.faults import Fault, FaultPlan, corrupted

StartResponse = Callable[..., Any]
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/")
_JSON_TYPE = "application/x-amz-json-1.1"


@dataclass
class _Call:
    """One request as the middleware sees it."""

    service: str  # signing name from the credential scope: sagemaker, logs, s3, ...
    region: str
    operation: str  # the name faults match
    action: str = ""  # JSON-protocol action (X-Amz-Target); "" for S3's REST/XML
    body: Optional[dict[str, Any]] = None


@dataclass
class _Reply:
    status: str
    headers: list[tuple[str, str]]
    body: Iterable[bytes]

    @property
    def ok(self) -> bool:
        return self.status.startswith("2")


class AwsServer:
    """moto's WSGI app plus the gap-filling middleware, served on 127.0.0.1:<free port>.

    Settings a test may change (``reset`` restores them): ``plan`` (faults),
    ``log_page_size``, ``sagemaker.new_training_status`` / ``new_tuning_status`` (the
    status jobs are born with; None keeps moto's ``Completed``) and
    ``sagemaker.stopping_describes`` (Describe calls a stopping job stays ``Stopping``
    for; None: until the test moves it).
    """

    def __init__(self) -> None:
        self.plan = FaultPlan()
        self.sagemaker = SageMakerJobs()
        self.log_page_size = 10_000  # FilterLogEvents page size (CloudWatch's: 10,000)
        self._requests: list[tuple[str, dict[str, Any]]] = []
        self._log_cache: Optional[tuple[Any, list[dict[str, Any]], list[tuple[int, int]]]] = None
        self._lock = threading.RLock()
        self._moto = DomainDispatcherApplication(create_backend_app)
        self.runs: Optional[JobRuns] = None
        self._server: Optional[BaseWSGIServer] = None
        self._thread: Optional[threading.Thread] = None

    # ---- lifecycle

    def start(self) -> AwsServer:
        aws_rules.model_problems("CreateTrainingJob", {})  # load the service model once, now
        self._server = make_server(
            "127.0.0.1", 0, self, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="aws-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop_runs()
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        assert self._server is not None, "call start() first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def reset(self) -> None:
        """Forget every resource, fault, recorded request and setting (between tests)."""
        self._stop_runs()
        with self._lock:
            moto_api_backend.reset()  # what POST /moto-api/reset does, without the HTTP
            self.plan.clear()
            self.sagemaker = SageMakerJobs()
            self.log_page_size = 10_000
            self._log_cache = None
            self._requests.clear()

    def _stop_runs(self) -> None:
        runs, self.runs = self.runs, None
        if runs is not None:
            runs.stop_all()

    # ---- what tests call

    def execute_jobs(self, image: Optional[SandboxImage] = None) -> JobRuns:
        """From now until ``reset``: every training or tuning job created runs for real
        (``aws_runs``), its image being ``image`` (default: one with the training toolkit)."""
        self._stop_runs()
        self.runs = JobRuns(self, image)
        return self.runs

    def requests(self, action: str) -> list[dict[str, Any]]:
        """Parsed JSON bodies of the ``action`` requests that reached the service, in order,
        each recorded once the server has handled it (a refused one too).

        Requests answered by a throttle/error fault are not included (``plan.calls`` has
        every attempt); requests cut by a ``reset`` fault are: the service handled them.
        """
        with self._lock:
            return [copy.deepcopy(body) for name, body in self._requests if name == action]

    def set_training_job(
        self,
        name: str,
        status: Optional[str] = None,
        secondary: Optional[str] = None,
        failure_reason: Optional[str] = None,
        region: str = "us-east-1",
        **fields: Any,
    ) -> None:
        """Set a training job's TrainingJobStatus, SecondaryStatus, FailureReason.

        A status alone implies its usual SecondaryStatus (InProgress -> Training, ...);
        TrainingStartTime/TrainingEndTime/SecondaryStatusTransitions follow. ``fields``
        sets moto's attributes by snake_case name (``training_end_time=datetime(...)``,
        ``final_metric_data_list=[...]``, ``billable_time_in_seconds=...``).
        """
        with self._lock:
            self.sagemaker.set_training_job(
                name, status, secondary, failure_reason, region=region, **fields
            )

    def set_tuning_job(
        self,
        name: str,
        status: Optional[str] = None,
        failure_reason: Optional[str] = None,
        region: str = "us-east-1",
        **fields: Any,
    ) -> None:
        """Set a tuning job's HyperParameterTuningJobStatus, FailureReason, moto fields.

        Its TrainingJobStatusCounters, ObjectiveStatusCounters and BestTrainingJob are
        derived from its trials (``add_tuning_trial``) on every Describe.
        """
        with self._lock:
            self.sagemaker.set_tuning_job(name, status, failure_reason, region=region, **fields)

    def add_tuning_trial(
        self,
        tuning_job: str,
        *,
        name: Optional[str] = None,
        status: str = "InProgress",
        hyperparameters: Optional[dict[str, str]] = None,
        objective: Optional[float] = None,
        failure_reason: Optional[str] = None,
        region: str = "us-east-1",
    ) -> str:
        """Launch a training job of ``tuning_job`` as SageMaker would; returns its name.

        The job is built from the tuning job's TrainingJobDefinition (static + tuned
        hyperparameters, TuningJobArn set), answers DescribeTrainingJob, and is listed by
        ListTrainingJobsForHyperParameterTuningJob. Default name: ``<tuning>-001-<hex8>``.
        """
        with self._lock:
            return self.sagemaker.add_trial(
                tuning_job,
                name=name,
                status=status,
                hyperparameters=hyperparameters,
                objective=objective,
                failure_reason=failure_reason,
                region=region,
            )

    def set_trial(self, name: str, *, objective: Optional[float] = None, **changes: Any) -> None:
        """Set a trial's final objective value and/or anything ``set_training_job`` sets."""
        with self._lock:
            self.sagemaker.set_trial(name, objective=objective, **changes)

    def put_log_lines(
        self,
        log_group: str,
        stream: str,
        lines: Iterable[tuple[int, str]],
        region: str = "us-east-1",
    ) -> None:
        """Append ``(timestamp_ms, text)`` events to a stream, creating group and stream."""
        backend = get_backend("logs")[DEFAULT_ACCOUNT_ID][region]
        with self._lock:
            if log_group not in backend.groups:
                backend.create_log_group(log_group, tags={})
            group = backend.groups[log_group]
            if stream not in group.streams:
                group.create_log_stream(stream)
            events = [{"timestamp": ts, "message": text} for ts, text in lines]
            group.put_log_events(stream, events)

    def client(self, service: str, attempts: int = 3, **config: Any) -> Any:
        """A boto3 client for this server: standard retry mode, ``attempts`` in all."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"mode": "standard", "total_max_attempts": attempts}, **config),
        )

    # ---- the middleware

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        call = _parse(environ)
        fault = self.plan.take(call.operation)
        if fault is not None and fault.kind in ("throttle", "error"):
            reply = _fault_reply(call, fault)
        else:
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            reply = self._handle(environ, call)
        if fault is not None and fault.kind == "reset":
            _cut(environ, reply, fault.after_bytes)
        if fault is not None and fault.kind == "corrupt" and reply.ok:
            reply.body = [corrupted(b"".join(reply.body), fault.at)]
        start_response(reply.status, reply.headers)
        return reply.body

    def _handle(self, environ: dict[str, Any], call: _Call) -> _Reply:
        try:
            return self._answer(environ, call)
        finally:
            # Recorded once handled: a test that sees the request sees what it did (the job
            # it created), whatever the time its checks took.
            if call.body is not None:
                with self._lock:
                    self._requests.append((call.action, copy.deepcopy(call.body)))

    def _answer(self, environ: dict[str, Any], call: _Call) -> _Reply:
        try:
            if call.service == "sagemaker":
                return self._sagemaker(environ, call)
            if call.service == "logs" and call.action == "FilterLogEvents":
                with self._lock:
                    return _json(200, self._filter_log_events(call))
            return self._forward(environ)
        except ApiError as e:
            return _error(call, e.status, e.code, e.message)
        except Exception as e:
            # moto raises NotImplementedError for the actions it lacks (and a bug raises
            # anything): werkzeug would answer 500, which botocore retries with backoff;
            # 501 is not retried, so the test fails at once, with the reason.
            return _error(call, 501, "NotImplemented", f"test server: {type(e).__name__}: {e}")

    def _sagemaker(self, environ: dict[str, Any], call: _Call) -> _Reply:
        assert call.body is not None
        refused = aws_rules.problems(call.action, call.body)
        if refused:
            raise ApiError("ValidationException", refused)
        # One at a time: the duplicate-name check and the create must not interleave.
        with self._lock:
            answer = self.sagemaker.answer(call.action, call.body, call.region)
            if answer is not None:
                stopped = self.runs.stopping(call.action, call.body) if self.runs else None
                if stopped is not None:
                    # The run ends the job (Stopped) once its containers have stopped.
                    self.sagemaker.stopping.pop(stopped, None)
                return _json(200, answer)
            reply = self._forward(environ)
            if reply.ok:
                self.sagemaker.after(call.action, call.body, call.region)
                if self.runs is not None:
                    self.runs.created(call.action, call.body, call.region)
            return reply

    def _forward(self, environ: dict[str, Any]) -> _Reply:
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            started.update(status=status, headers=headers)

        body = self._moto(environ, start_response)
        return _Reply(started["status"], started["headers"], body)

    def _filter_log_events(self, call: _Call) -> dict[str, Any]:
        """FilterLogEvents as CloudWatch answers it: moto ignores logStreamNamePrefix and
        does not interleave the streams' events by time."""
        body = call.body or {}
        if body.get("logStreamNames") and body.get("logStreamNamePrefix"):
            raise ApiError(
                "InvalidParameterException",
                "You cannot specify both logStreamNames and logStreamNamePrefix.",
            )
        group = get_backend("logs")[DEFAULT_ACCOUNT_ID][call.region].groups.get(
            body.get("logGroupName")
        )
        if group is None:
            raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")
        streams = [s for name, s in list(group.streams.items()) if _stream_wanted(name, body)]
        events, keys = self._matching_events(call.region, streams, body)
        start = bisect.bisect_right(keys, _read_token(body))
        page = events[start : start + min(int(body.get("limit") or 10_000), self.log_page_size)]
        answer: dict[str, Any] = {
            "events": page,
            "searchedLogStreams": [
                {"logStreamName": s.log_stream_name, "searchedCompletely": True} for s in streams
            ],
        }
        if start + len(page) < len(events):
            answer["nextToken"] = "f/{}/{}".format(*_event_key(page[-1]))
        return answer

    def _matching_events(
        self, region: str, streams: list[Any], body: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
        """The query's events in time order, and their sort keys. The last answer is kept
        while no stream grows, so reading N pages costs about N pages, not N whole scans
        (CloudWatch's own search is indexed)."""
        fields = ("logGroupName", "startTime", "endTime", "filterPattern")
        query = tuple(body.get(k) for k in fields)
        names = tuple(s.log_stream_name for s in streams)
        stamp = (region, query, names, tuple(len(s.events) for s in streams))
        if self._log_cache is None or self._log_cache[0] != stamp:
            events = sorted(_log_events(streams, body), key=_event_key)
            self._log_cache = (stamp, events, [_event_key(e) for e in events])
        return self._log_cache[1], self._log_cache[2]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # one line per request would drown the test output; errors still print


def _parse(environ: dict[str, Any]) -> _Call:
    auth = environ.get("HTTP_AUTHORIZATION") or unquote(environ.get("QUERY_STRING", ""))
    scope = _SCOPE.search(auth)
    region, service = scope.groups() if scope else ("us-east-1", "")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:  # JSON protocol: SageMaker.CreateTrainingJob, Logs_20140328.FilterLogEvents
        action = target.rsplit(".", 1)[-1]
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)  # moto reads it again
        return _Call(service, region, action, action, json.loads(raw or b"{}"))
    method = environ["REQUEST_METHOD"]
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")  # PEP 3333
    return _Call(service, region, f"{'S3 ' if service == 's3' else ''}{method} {path}")


def _fault_reply(call: _Call, fault: Fault) -> _Reply:
    if fault.kind == "throttle":
        # As the real services throttle: JSON protocols 400 ThrottlingException, S3 503.
        if call.action:
            return _error(call, 400, "ThrottlingException", "Rate exceeded")
        return _error(call, 503, "SlowDown", "Please reduce your request rate.")
    return _error(
        call,
        fault.status,
        fault.code or "ServiceUnavailable",
        fault.message or "Service unavailable (injected)",
    )


def _cut(environ: dict[str, Any], reply: _Reply, after_bytes: int) -> None:
    """Send the status line, the headers and ``after_bytes`` of the body straight to the
    socket, then drop the connection (``after_bytes=0``: drop it before any answer).

    A JSON answer cut short is not always an error to the client (botocore 1.44 with
    urllib3 2.8 parsed a 10-byte prefix of an 81-byte answer as a success); a lost answer
    is, so "the service acted but the client never heard" uses ``after_bytes=0``.

    Written past werkzeug on purpose: how its writer buffers the first chunks differs
    between releases (3.1.9 delivered the whole body of a generator that stopped early).
    """
    body = b"".join(reply.body)
    close = getattr(reply.body, "close", None)
    if close is not None:
        close()
    head = [f"HTTP/1.1 {reply.status}"]
    head += [f"{k}: {v}" for k, v in reply.headers if k.lower() != "content-length"]
    head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    sock = environ["werkzeug.socket"]
    if after_bytes > 0:  # 0: the connection drops before a byte of the answer
        sock.sendall("\r\n".join(head).encode("latin-1") + body[:after_bytes])
    sock.shutdown(socket.SHUT_RDWR)
    # werkzeug takes a ConnectionError for a client that went away: it appends nothing.
    raise ConnectionResetError("injected reset")


def _stream_wanted(name: str, body: dict[str, Any]) -> bool:
    names = body.get("logStreamNames")
    return name in names if names else name.startswith(body.get("logStreamNamePrefix") or "")


def _log_events(streams: list[Any], body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    start, end = body.get("startTime"), body.get("endTime")
    pattern = EventMessageFilter(body.get("filterPattern") or "")
    for stream in streams:
        for event in list(stream.events):
            if start is not None and event.timestamp < start:
                continue
            if end is not None and event.timestamp > end:
                continue
            if pattern.matches(event.message):
                yield {**event.to_filter_dict(), "logStreamName": stream.log_stream_name}


def _event_key(event: dict[str, Any]) -> tuple[int, int]:
    return (event["timestamp"], int(event["eventId"]))


def _read_token(body: dict[str, Any]) -> tuple[float, int]:
    token = body.get("nextToken")
    if not token:
        return (float("-inf"), -1)
    try:
        _, timestamp, event_id = token.split("/")
        return (int(timestamp), int(event_id))
    except ValueError:
        raise ApiError("InvalidParameterException", "The specified nextToken is invalid.") from None


def _json(status: int, payload: dict[str, Any]) -> _Reply:
    data = json.dumps(payload, default=_epoch).encode()
    return _Reply(_status_line(status), _headers(_JSON_TYPE, data), [data])


def _error(call: _Call, status: int, code: str, message: str) -> _Reply:
    """An error in the protocol of ``call``: JSON ``__type`` or S3's XML ``<Error>``."""
    if call.action:
        return _json(status, {"__type": code, "message": message})
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{uuid.uuid4()}</RequestId></Error>"
    )
    data = xml.encode()
    return _Reply(_status_line(status), _headers("application/xml", data), [data])


def _headers(content_type: str, data: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _epoch(value: Any) -> float:
    """JSON-protocol timestamps are epoch seconds; moto keeps naive UTC datetimes."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.timestamp()
    raise TypeError(f"cannot encode {type(value).__name__}")
