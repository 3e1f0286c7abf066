"""A fault-injecting, request-recording HTTP reverse proxy for emulators that run elsewhere.

Put one in front of Azurite or the GCS emulator: the SDK under test talks to ``proxy.url``,
the proxy records each request and, when the ``FaultPlan`` says so, answers with throttling
or a 5xx, waits, or cuts the response body mid-way — the failures real clouds produce.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Callable, Optional
from urllib.parse import urlsplit

from tests.emulators.faults import Fault, FaultPlan, QuietHTTPServer, corrupted

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class RecordedRequest:
    operation: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def default_operation(method: str, path: str, headers: dict[str, str]) -> str:
    return f"{method} {urlsplit(path).path}"


class FaultProxy:
    """Forwards to ``upstream`` (``http://host:port``) from ``127.0.0.1:<free port>``."""

    def __init__(
        self,
        upstream: str,
        plan: Optional[FaultPlan] = None,
        operation: Callable[[str, str, dict[str, str]], str] = default_operation,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plan = plan or FaultPlan()
        self.operation = operation
        self.requests: list[RecordedRequest] = []
        self.most_in_flight = 0  # requests forwarded at once, at the most
        self._in_flight = 0
        self._counting = threading.Lock()
        self._server = QuietHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, each keep-alive
            # request waits ~40 ms for a delayed ACK.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _any

        return Handler

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k: v for k, v in handler.headers.items()}
        body = _read_body(handler)
        operation = self.operation(handler.command, handler.path, headers)
        self.requests.append(
            RecordedRequest(operation, handler.command, handler.path, headers, body)
        )
        fault = self.plan.take(operation)
        if fault and fault.kind in ("throttle", "error"):
            _answer_fault(handler, fault)
            return
        if fault and fault.kind == "slow":
            time.sleep(fault.delay)
        with self._counting:
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            status, reason, out_headers, payload = self._forward(handler, headers, body)
        finally:
            with self._counting:
                self._in_flight -= 1
        if fault and fault.kind == "corrupt" and status < 300:
            payload = corrupted(payload)
        handler.send_response(status, reason)
        for key, value in out_headers:
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        if fault and fault.kind in ("reset", "short"):
            handler.wfile.write(payload[: fault.after_bytes])
            handler.wfile.flush()
            if fault.kind == "reset":
                _reset(handler)
            else:
                handler.close_connection = True
            return
        handler.wfile.write(payload)

    def _forward(
        self, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            forwarded["Content-Length"] = str(len(body))
            conn.request(handler.command, handler.path, body=body, headers=forwarded)
            response = conn.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            conn.close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _answer_fault(handler: BaseHTTPRequestHandler, fault: Fault) -> None:
    status = 429 if fault.kind == "throttle" and fault.status == 503 else fault.status
    body = b'{"error": {"code": "Injected", "message": "injected fault"}}'
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    if status == 429:
        handler.send_header("Retry-After", "0")
    handler.end_headers()
    handler.wfile.write(body)


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Drop the connection hard (RST), as a flaky network does mid-download."""
    sock = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    handler.close_connection = True
    sock.close()
