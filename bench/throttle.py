"""A TCP proxy on 127.0.0.1 that holds each connection to a fixed rate, each way.

    proxy = Throttle(("127.0.0.1", upstream_port), rate=50e6).start()
    ... clients connect to proxy.port ...

What a real network path does and an emulator on loopback does not: one connection carries
at most ``rate`` bytes a second, so a client that opens more connections (ranged parts)
goes faster, as it would against a cloud. Bytes are moved with ``os.splice`` through a
pipe (no copy into Python) in slices of ``SLICE`` bytes, each followed by the wait that
keeps the connection at ``rate``; the proxy itself needs little CPU.

It runs in a process of its own, as a network path would: in the measured process its
threads would wait for the client's GIL between slices, and a client that spends more time
in Python would see its own bytes arrive later.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Optional

SLICE = 256 << 10


class Throttle:
    """The proxy in a child process (``python throttle.py HOST PORT RATE``), stopped by
    ``stop``: the child serves until its standard input closes."""

    def __init__(self, upstream: tuple[str, int], rate: float) -> None:
        self.upstream, self.rate = upstream, rate
        self.port = 0
        self._child: Optional[subprocess.Popen[str]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Throttle:
        host, port = self.upstream
        self._child = subprocess.Popen(
            [sys.executable, __file__, host, str(port), repr(self.rate)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._child.stdout is not None
        self.port = int(self._child.stdout.readline())
        return self

    def stop(self) -> None:
        if self._child is not None:
            assert self._child.stdin is not None
            self._child.stdin.close()
            self._child.wait(10)


class _Proxy:
    """Accepts on a free port; each connection gets its own upstream connection."""

    def __init__(self, upstream: tuple[str, int], rate: float) -> None:
        self.upstream, self.rate = upstream, rate
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._stopped = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> _Proxy:
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            server = socket.create_connection(self.upstream)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        """Move bytes from ``source`` to ``sink`` at ``rate`` at most, until either closes."""
        read, write = os.pipe()
        started, moved = time.monotonic(), 0
        try:
            while True:
                n = os.splice(source.fileno(), write, SLICE)
                if n == 0:
                    break
                left = n
                while left:
                    left -= os.splice(read, sink.fileno(), left)
                moved += n
                ahead = moved / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
                elif ahead < -0.05:  # idle (a keep-alive pause): the budget does not pile up
                    started, moved = time.monotonic(), 0
        except OSError:
            pass
        finally:
            os.close(read)
            os.close(write)
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def main() -> None:
    host, port, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    proxy = _Proxy((host, port), rate).start()
    print(proxy.port, flush=True)
    sys.stdin.read()  # until the parent closes it, or exits
    proxy.stop()


if __name__ == "__main__":
    main()
