"""Fault injection shared by every test server: throttling, 5xx, slow answers, resets,
and bodies corrupted in flight (``corrupt``: the first byte of a successful answer's body
flipped, so only a checksum tells).

A ``FaultPlan`` is consulted by each server (or by ``proxy.FaultProxy`` in front of one)
once per request with that request's *operation* name — the provider's own name for the
call where there is one (``DescribeTrainingJob``, ``GetCustomJob``), else ``METHOD /path``.
Tests add faults before the calls they disturb and read ``calls`` to assert what was sent.
"""

from __future__ import annotations

import fnmatch
import sys
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Literal, Optional

FaultKind = Literal["throttle", "error", "slow", "reset", "short", "corrupt"]


@dataclass
class Fault:
    """Fire ``times`` times on operations matching ``match`` (a glob)."""

    match: str
    kind: FaultKind = "error"
    status: int = 503  # for throttle (default 429 where the protocol has it) and error
    times: int = 1
    delay: float = 0.0  # for slow: seconds to wait before answering normally
    # For reset and short: bytes of the body sent before the connection drops (reset: RST,
    # which may discard what the client has not read yet; short: an orderly close, so the
    # client reads those bytes and then finds the body shorter than its Content-Length).
    after_bytes: int = 0
    at: int = 0  # for corrupt: which byte of the body is flipped (negative: from the end)
    # For error: the provider's error code and message (e.g. a validation error that
    # echoes a value back); each server uses its usual ones when not given.
    code: Optional[str] = None
    message: Optional[str] = None
    fired: int = 0


@dataclass
class FaultPlan:
    """Thread-safe list of faults plus a log of the operations seen."""

    faults: list[Fault] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, match: str, kind: FaultKind = "error", **options: object) -> Fault:
        fault = Fault(match, kind, **options)  # type: ignore[arg-type]
        with self._lock:
            self.faults.append(fault)
        return fault

    def take(self, operation: str) -> Optional[Fault]:
        """Record ``operation``; return the fault to apply to it, if one is due."""
        with self._lock:
            self.calls.append(operation)
            for fault in self.faults:
                if fault.fired < fault.times and fnmatch.fnmatchcase(operation, fault.match):
                    fault.fired += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.calls.clear()

    def count(self, pattern: str) -> int:
        with self._lock:
            return sum(fnmatch.fnmatchcase(c, pattern) for c in self.calls)


def corrupted(body: bytes, at: int = 0) -> bytes:
    """``body`` with byte ``at`` (the first by default) flipped: same length, other bytes."""
    if not body:
        return body
    flipped = bytearray(body)
    flipped[at] ^= 0xFF
    return bytes(flipped)


class QuietHTTPServer(ThreadingHTTPServer):
    """A threaded test server that does not print a traceback for a connection a fault (or
    the client) cut: that is the point of a ``reset``."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]
