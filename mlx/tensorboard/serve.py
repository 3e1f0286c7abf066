"""A local TensorBoard over the cache: a child process bound to 127.0.0.1.

TensorBoard is the optional extra ``tensorboard`` (``pip install 'mlx-jobs[tensorboard]'``);
it is started as ``python -m tensorboard.main`` (tensorboard/main.py), so its imports (and
its start-up time) stay out of mlx's process. It re-reads the log folder every
``--reload_interval`` seconds (tensorboard/plugins/core/core_plugin.py, default 5), so
files the sync appends to show up without a restart.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Optional

from mlx.errors import BackendUnavailable, MlxError

HOST = "127.0.0.1"
FIRST_PORT = 6006  # TensorBoard's own default port (tensorboard/plugins/core/core_plugin.py)
PORTS_TRIED = 20
RELOAD_EVERY = 2  # seconds: --reload_interval
LOG_NAME = ".mlx-tensorboard.log"


def require() -> None:
    """Refuse when TensorBoard is not installed, with the line that installs it (as for a
    missing cloud SDK: ``BackendUnavailable``)."""
    if importlib.util.find_spec("tensorboard") is None:
        raise BackendUnavailable(
            "serving needs TensorBoard, which is not installed (--sync-only DIR copies "
            "the files without it)",
            hint="pip install 'mlx-jobs[tensorboard]'",
        )


def free_port(wanted: Optional[int]) -> int:
    """``wanted``, or the first free port from 6006 on."""
    ports = [wanted] if wanted else list(range(FIRST_PORT, FIRST_PORT + PORTS_TRIED))
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return port
    raise MlxError(
        f"port {wanted} on {HOST} is in use" if wanted else "no free port from 6006 on",
        hint="Pick another with --port N.",
    )


class Server:
    """The TensorBoard child process serving ``logdir`` on ``port``."""

    def __init__(self, logdir: Path, port: int) -> None:
        self.logdir = logdir
        self.port = port
        self._log: Optional[IO[bytes]] = None
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> Server:
        # Open for the server's whole life (closed in ``stop``): TensorBoard's output.
        self._log = open(self.logdir / LOG_NAME, "ab")  # noqa: SIM115
        argv = [sys.executable, "-m", "tensorboard.main", "--logdir", str(self.logdir)]
        argv += ["--host", HOST, "--port", str(self.port)]
        argv += ["--reload_interval", str(RELOAD_EVERY)]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    def check(self) -> None:
        """Raise when TensorBoard has exited (a port taken since, a broken install)."""
        if self.process is None or self.process.poll() is None:
            return
        raise MlxError(
            f"TensorBoard exited with code {self.process.returncode}",
            hint=f"Its output is in {self.logdir / LOG_NAME}.",
        )

    def stop(self) -> None:
        """Stop it (Ctrl-C reached it too, from the terminal) and wait for it to end."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
