"""Start a job's containers, pass on every line they print, stop them when asked."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from typing import IO, Callable

from mlx.runner.container import Container, Runtime

# (node index, "stdout" | "stderr", the line without its end, when it was read)
LineSink = Callable[[int, str, str, float], None]

STOP_GRACE = 10.0  # SIGTERM, then SIGKILL: `docker stop`'s default grace period


def run_nodes(
    containers: Sequence[Container],
    runtime: Runtime,
    sink: LineSink,
    cancelled: threading.Event,
) -> list[int]:
    """Run ``containers`` (one per node) to the end; their exit codes, in order.

    When ``cancelled`` is set, every container gets SIGTERM and, after ``STOP_GRACE``,
    SIGKILL (as a platform stops a job's instances).
    """
    processes = [runtime.start(container) for container in containers]
    pumps = [
        threading.Thread(target=_pump, args=(node, stream, pipe, sink), daemon=True)
        for node, process in enumerate(processes)
        for stream, pipe in (("stdout", process.stdout), ("stderr", process.stderr))
    ]
    for pump in pumps:
        pump.start()
    watcher = threading.Thread(target=_stop_on, args=(cancelled, processes), daemon=True)
    watcher.start()
    codes = [process.wait() for process in processes]
    for pump in pumps:
        pump.join()
    return codes


def _pump(node: int, stream: str, pipe: IO[bytes] | None, sink: LineSink) -> None:
    assert pipe is not None
    for raw in iter(pipe.readline, b""):
        sink(node, stream, raw.decode("utf-8", "replace").rstrip("\r\n"), time.time())
    pipe.close()


def _stop_on(cancelled: threading.Event, processes: list[subprocess.Popen[bytes]]) -> None:
    while not cancelled.wait(0.2):
        if all(p.poll() is not None for p in processes):
            return
    stop(processes)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every still-running container's group, SIGKILL after the grace period."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signum)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and any(p.poll() is None for p in processes):
            time.sleep(0.1)
