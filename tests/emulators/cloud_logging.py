"""A Cloud Logging test server: ``ListLogEntries`` and ``TailLogEntries`` over real gRPC.

Cloud Logging has no emulator, and ``TailLogEntries`` exists only over gRPC, so this is a
generic-handler gRPC server on an insecure ``127.0.0.1`` port speaking the real
``google.logging.v2.LoggingServiceV2`` protos. Tests ``append`` entries shaped like the
ones Vertex AI writes (``resource.type="ml_job"``, ``resource.labels.job_id``/``task_name``)
and assert on the filters the client sent (``requests``): ``Client.list_entries`` silently
adds a 24 h ``timestamp>=`` bound, so mlx must always send its own.

The filter evaluator here (``compile_filter``/``compare``) also serves ``vertex.py``: both
APIs speak the AIP-160 filter dialect.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any, Callable, Optional, Union

import grpc
from google.cloud.logging_v2.types import (
    ListLogEntriesRequest,
    ListLogEntriesResponse,
    LogEntry,
    TailLogEntriesRequest,
    TailLogEntriesResponse,
)
from google.logging.type import log_severity_pb2

from tests.emulators.faults import Fault, FaultPlan

# ---------------------------------------------------------------------------------------
# Filters: AND / OR / NOT / parentheses over `field OP value` comparisons.
# ---------------------------------------------------------------------------------------

Test = Callable[[str, str, str], bool]  # (field path, operator, value) -> does it match
Node = Callable[[Test], bool]


class FilterError(ValueError):
    """The filter does not parse, or names a field the server does not know."""


# A field path may hold quoted segments: labels."ml.googleapis.com/trial_id".
_TOKEN = re.compile(
    r"""\s*(?:(?P<op>>=|<=|!=|=~|!~|[=<>:])
        |(?P<paren>[()])
        |(?P<str>"(?:[^"\\]|\\.)*")
        |(?P<word>(?:[^\s()"=<>!:~]|(?<=\.)"[^"]*")+))""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"unexpected text in filter at {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary (AND? unary)*."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.comparisons: list[tuple[str, str, str]] = []

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, kind: str, text: Optional[str] = None) -> str:
        token = self.peek()
        if token[0] != kind or (text is not None and token[1] != text):
            raise FilterError(f"expected {text or kind} in filter, found {token[1]!r}")
        self.pos += 1
        return token[1]

    def parse(self) -> Node:
        node = self.disjunction()
        self.take("end")
        return node

    def disjunction(self) -> Node:
        nodes = [self.conjunction()]
        while self.peek() == ("word", "OR"):
            self.pos += 1
            nodes.append(self.conjunction())
        return lambda test: any(node(test) for node in nodes)

    def conjunction(self) -> Node:
        nodes = [self.unary()]
        while self.peek() not in (("end", ""), ("paren", ")"), ("word", "OR")):
            if self.peek() == ("word", "AND"):
                self.pos += 1
            nodes.append(self.unary())  # juxtaposition is AND too
        return lambda test: all(node(test) for node in nodes)

    def unary(self) -> Node:
        if self.peek() == ("word", "NOT"):
            self.pos += 1
            inner = self.unary()
            return lambda test: not inner(test)
        if self.peek() == ("paren", "("):
            self.pos += 1
            inner = self.disjunction()
            self.take("paren", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Node:
        field = self.take("word")
        if self.peek()[0] != "op":
            raise FilterError(f"bare terms are not supported (use `field OP value`): {field!r}")
        op = self.take("op")
        values = self.values()
        self.comparisons += [(field, op, value) for value in values]
        return lambda test: any(test(field, op, value) for value in values)

    def values(self) -> list[str]:
        """One value, or `("a" OR "b")` which matches either."""
        if self.peek() != ("paren", "("):
            return [self.value()]
        self.pos += 1
        values = [self.value()]
        while self.peek() == ("word", "OR"):
            self.pos += 1
            values.append(self.value())
        self.take("paren", ")")
        return values

    def value(self) -> str:
        kind, text = self.peek()
        if kind not in ("str", "word"):
            raise FilterError(f"expected a value in filter, found {text!r}")
        self.pos += 1
        return re.sub(r'\\([\\"])', r"\1", text[1:-1]) if kind == "str" else text


@dataclass(frozen=True)
class Filter:
    """A parsed filter: ``matches(test)`` per candidate; ``comparisons`` to validate once."""

    node: Node
    comparisons: list[tuple[str, str, str]]

    def matches(self, test: Test) -> bool:
        return self.node(test)


def compile_filter(text: str) -> Filter:
    """Parse a filter once (``FilterError`` if it does not parse)."""
    if not text.strip():
        return Filter(lambda test: True, [])
    parser = _Parser(text)
    return Filter(parser.parse(), parser.comparisons)


def parse_time(text: str) -> datetime:
    """RFC 3339 (nanoseconds allowed, trimmed to micro) or a bare date, as aware UTC."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as e:
        raise FilterError(f"not an RFC 3339 timestamp: {text!r}") from e
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def compare(actual: Any, op: str, expected: str, *, fold_case: bool = False) -> bool:
    """One comparison with the AIP-160 meaning of each operator.

    ``:`` is "has": ``*`` tests presence, a trailing ``*`` a prefix, else a substring.
    Regexes (``=~``/``!~``) are searches and never fold case. A missing field only
    satisfies ``!=`` and ``!~``.
    """
    if op in ("=~", "!~"):
        found = actual is not None and re.search(expected, str(actual)) is not None
        return found == (op == "=~")
    if actual is None:
        return op == "!="
    if op == ":" and expected == "*":
        return True
    left, right = _comparable(actual, expected, fold_case)
    if op == ":":
        return left.startswith(right.rstrip("*")) if right.endswith("*") else right in left
    return _ORDER_OPS[op](left, right)


_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _comparable(actual: Any, expected: str, fold_case: bool) -> tuple[Any, Any]:
    if isinstance(actual, datetime):
        return actual, parse_time(expected)
    if isinstance(actual, int):
        return actual, int(expected)
    if fold_case:
        return str(actual).lower(), expected.lower()
    return str(actual), expected


# ---------------------------------------------------------------------------------------
# Log entries as Vertex AI writes them.
# ---------------------------------------------------------------------------------------

Timestamp = Union[datetime, str]


def log_entry(
    text: str,
    *,
    job_id: str,
    task_name: str = "workerpool0-0",
    timestamp: Optional[Timestamp] = None,
    labels: Optional[Mapping[str, str]] = None,
    severity: str = "INFO",
    project: str = "test-project",
) -> LogEntry:
    """A custom-job log line: resource ``ml_job`` with ``job_id``/``task_name`` labels."""
    when = parse_time(timestamp) if isinstance(timestamp, str) else timestamp
    return LogEntry(
        log_name=f"projects/{project}/logs/{task_name}",
        resource={
            "type": "ml_job",
            "labels": {"job_id": job_id, "project_id": project, "task_name": task_name},
        },
        text_payload=text,
        timestamp=when or datetime.now(timezone.utc),
        receive_timestamp=datetime.now(timezone.utc),
        severity=log_severity_pb2.LogSeverity.Value(severity),
        labels=dict(labels or {}),
    )


_CAMEL = {"text_payload": "textPayload", "log_name": "logName", "insert_id": "insertId"}


def _unquote(segment: str) -> str:
    return segment[1:-1] if segment.startswith('"') and segment.endswith('"') else segment


def entry_field(entry: LogEntry, path: str) -> Any:
    """The value a filter's field path names; ``FilterError`` for fields not served."""
    head, _, rest = path.partition(".")
    head = _CAMEL.get(head, head)
    if head == "resource" and rest == "type":
        return entry.resource.type
    if head == "resource" and rest.startswith("labels."):
        return entry.resource.labels.get(_unquote(rest[len("labels.") :]))
    if head == "labels" and rest:
        return entry.labels.get(_unquote(rest))
    if head == "jsonPayload" and rest == "message":  # how Vertex writes some output
        return entry.json_payload.get("message") if "json_payload" in entry else None
    if head in ("timestamp", "receiveTimestamp") and not rest:
        return entry.timestamp if head == "timestamp" else entry.receive_timestamp
    if head == "severity" and not rest:
        return int(entry.severity)
    if head in ("textPayload", "logName", "insertId") and not rest:
        return getattr(entry, {v: k for k, v in _CAMEL.items()}[head]) or None
    raise FilterError(f"the test server does not filter on {path!r}")


def _severity(value: str) -> str:
    return value if value.isdigit() else str(log_severity_pb2.LogSeverity.Value(value.upper()))


def entry_matches(flt: Filter, entry: LogEntry) -> bool:
    def test(path: str, op: str, value: str) -> bool:
        actual = entry_field(entry, path)
        value = _severity(value) if path == "severity" else value
        # Logging compares strings case-insensitively; regexes stay case-sensitive.
        return compare(actual, op, value, fold_case=True)

    return flt.matches(test)


def check_log_filter(flt: Filter) -> None:
    """Reject, as the service does, unknown fields, bad times, severities and regexes."""
    blank = LogEntry()
    for path, op, value in flt.comparisons:
        entry_field(blank, path)
        if path.startswith(("timestamp", "receive")) and op not in (":", "=~", "!~"):
            parse_time(value)
        if path == "severity":
            _severity(value)
        if op in ("=~", "!~"):
            re.compile(value)


# ---------------------------------------------------------------------------------------
# The server.
# ---------------------------------------------------------------------------------------

_SERVICE = "google.logging.v2.LoggingServiceV2"
_GRPC_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
_MAX_PAGE = 1000
_DEFAULT_PAGE = 50


class LoggingServer:
    """``ListLogEntries`` + ``TailLogEntries`` on ``127.0.0.1:<free port>``."""

    def __init__(self, plan: Optional[FaultPlan] = None) -> None:
        self.plan = plan or FaultPlan()
        self.entries: list[LogEntry] = []
        self._requests: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._insert_ids = 0
        # ``hold_after_first``: ListLogEntries requests after the next one wait for this.
        self.released = threading.Event()
        self.released.set()
        self._held_requests = 0
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        self._server.add_generic_rpc_handlers((self._handlers(),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def address(self) -> str:
        """The gRPC target, ``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> LoggingServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=0).wait()

    def reset(self) -> None:
        with self._changed:
            self.entries.clear()
            self._requests.clear()
            self._changed.notify_all()
        self.released.set()
        self.plan.clear()

    def hold_after_first(self) -> None:
        """Answer the next ListLogEntries request; hold every later one (a next page, or a
        new query) until ``released`` is set."""
        with self._changed:
            self._held_requests = 0
            self.released.clear()

    def append(self, entries: Iterable[Union[LogEntry, Mapping[str, Any]]]) -> list[LogEntry]:
        """Add entries (``LogEntry`` or ``log_entry`` keyword dicts); wakes open tails."""
        added = [e if isinstance(e, LogEntry) else log_entry(**e) for e in entries]
        with self._changed:
            for entry in added:
                self._insert_ids += 1
                entry.insert_id = entry.insert_id or f"{self._insert_ids:012d}"
                self.entries.append(entry)
            self._changed.notify_all()
        return added

    def requests(self, rpc: str = "*") -> list[dict[str, Any]]:
        """Requests received for RPCs matching ``rpc`` (a glob), faulted ones included."""
        with self._changed:
            return [r for r in self._requests if fnmatchcase(r["rpc"], rpc)]

    def wait_for(self, rpc: str, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until ``count`` requests for ``rpc`` arrived (a tail is open, say)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.requests(rpc)) >= count, timeout)

    @property
    def filters(self) -> list[str]:
        """Every filter received, in order, to assert mlx always bounds its queries."""
        return [r["filter"] for r in self.requests()]

    def _handlers(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            _SERVICE,
            {
                "ListLogEntries": grpc.unary_unary_rpc_method_handler(
                    self._list,
                    request_deserializer=ListLogEntriesRequest.deserialize,
                    response_serializer=ListLogEntriesResponse.serialize,
                ),
                "TailLogEntries": grpc.stream_stream_rpc_method_handler(
                    self._tail,
                    request_deserializer=TailLogEntriesRequest.deserialize,
                    response_serializer=TailLogEntriesResponse.serialize,
                ),
            },
        )

    def _begin(self, rpc: str, request: Any, context: grpc.ServicerContext) -> Optional[Fault]:
        """Record the request, then apply a due fault (``abort`` raises out of the RPC)."""
        record = {
            "rpc": rpc,
            "filter": request.filter,
            "resource_names": list(request.resource_names),
            "at": time.time(),  # when it arrived, to count requests per time window
        }
        if rpc == "ListLogEntries":
            record.update(order_by=request.order_by, page_size=request.page_size)
            record.update(page_token=request.page_token)
        with self._changed:
            self._requests.append(record)
            self._changed.notify_all()
        fault = self.plan.take(rpc)
        if fault is None:
            return None
        if fault.kind == "slow":
            time.sleep(fault.delay)
        elif fault.kind in ("throttle", "error"):
            status = 429 if fault.kind == "throttle" and fault.status == 503 else fault.status
            context.abort(_GRPC_CODES.get(status, grpc.StatusCode.UNKNOWN), "injected fault")
        elif fault.kind == "reset" and not (rpc == "TailLogEntries" and fault.after_bytes):
            context.abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer (injected)")
        return fault

    def _check(self, request: Any, context: grpc.ServicerContext) -> Filter:
        """What the real service rejects: no resource names, a bad filter."""
        if not request.resource_names:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "resource_names is required")
        try:
            flt = compile_filter(request.filter)
            check_log_filter(flt)
            return flt
        except (ValueError, re.error) as e:  # FilterError is a ValueError
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid filter: {e}")
            raise  # unreachable: abort raises

    def _select(self, flt: Filter, resource_names: Iterable[str]) -> list[LogEntry]:
        parents = tuple(f"{name}/logs/" for name in resource_names)
        with self._changed:
            entries = list(self.entries)
        return [e for e in entries if e.log_name.startswith(parents) and entry_matches(flt, e)]

    def _list(
        self, request: ListLogEntriesRequest, context: grpc.ServicerContext
    ) -> ListLogEntriesResponse:
        self._begin("ListLogEntries", request, context)
        flt = self._check(request, context)
        order = request.order_by.strip().lower() or "timestamp asc"
        if order not in ("timestamp asc", "timestamp desc"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad order_by {request.order_by!r}")
        if not 0 <= request.page_size <= _MAX_PAGE:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size must be in [0, 1000]")
        hits = self._select(flt, request.resource_names)
        # Stable sort: entries with equal timestamps keep their insertion order.
        hits.sort(key=lambda e: e.timestamp, reverse=order.endswith("desc"))
        start = _decode_token(request.page_token, context)
        if not self.released.is_set():
            with self._changed:
                self._held_requests += 1
                held = self._held_requests > 1
            if held:
                self.released.wait(timeout=60)
        end = start + (request.page_size or _DEFAULT_PAGE)
        token = _encode_token(end) if end < len(hits) else ""
        return ListLogEntriesResponse(entries=hits[start:end], next_page_token=token)

    def _tail(
        self, requests: Iterator[TailLogEntriesRequest], context: grpc.ServicerContext
    ) -> Iterator[TailLogEntriesResponse]:
        """Stream entries appended after the tail began, until the client hangs up."""
        request = next(requests)
        with self._changed:  # before recording: `wait_for` then appending is race-free
            seen, sent = len(self.entries), 0
        fault = self._begin("TailLogEntries", request, context)
        flt = self._check(request, context)
        parents = tuple(f"{name}/logs/" for name in request.resource_names)
        context.add_callback(self._wake)
        while context.is_active():
            with self._changed:
                if len(self.entries) == seen:  # woken by append, hang-up, or the timeout
                    self._changed.wait(timeout=0.2)
                fresh, seen = self.entries[seen:], len(self.entries)
            hits = [e for e in fresh if e.log_name.startswith(parents) and entry_matches(flt, e)]
            if fault and fault.kind == "reset" and sent + len(hits) >= fault.after_bytes:
                # A reset's after_bytes counts entries here: the stream breaks mid-way.
                yield TailLogEntriesResponse(entries=hits[: fault.after_bytes - sent])
                context.abort(grpc.StatusCode.UNAVAILABLE, "Connection reset (injected)")
            if hits:
                sent += len(hits)
                yield TailLogEntriesResponse(entries=hits)

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str, context: grpc.ServicerContext) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
    except ValueError:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid page_token {token!r}")
        raise  # unreachable: abort raises
