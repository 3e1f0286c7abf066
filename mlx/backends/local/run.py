"""The local job supervisor: ``python -m mlx.backends.local.run JOB_DIR``.

Started by ``LocalBackend.submit`` in a session of its own, so the job outlives the mlx
command that started it (``--detach``, Ctrl-C while following). It holds an exclusive lock
on ``supervisor.lock`` for its whole life: a free lock with no ``exit.json`` means it died.

It starts one bootstrap process per node with the variables torchrun expects, timestamps
every output line into ``logs/node-<rank>.log``, stops the other nodes when one fails, and
records the outcome in ``exit.json`` and the job store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from mlx.backends.local import sandboxed
from mlx.logfiles import MLX_LOG, LogWriter, node_log_name
from mlx.model import JobState
from mlx.store import Store

GRACE_SECONDS = 10.0


def acquire_lock(job_dir: Path) -> Optional[int]:
    """Take the supervisor lock; None if another process holds it."""
    fd = os.open(job_dir / "supervisor.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Supervisor:
    """Runs one job's nodes to the end. Used by this module's ``main`` (one process per job)
    and, in threads, by the local tuner (one per trial, without a new interpreter each)."""

    def __init__(self, job_dir: Path, extra_env: Optional[dict[str, str]] = None) -> None:
        self.job_dir = job_dir
        self.plan: dict[str, Any] = json.loads((job_dir / "plan.json").read_text())
        self.job_id: str = self.plan["job_id"]
        self.store = Store(Path(self.plan["store"]))
        self.log = LogWriter(job_dir / "logs" / MLX_LOG)
        self.extra_env = extra_env or {}
        self.children: list[subprocess.Popen[bytes]] = []
        self.cancelled = False
        self.cancel_reason = "cancelled"
        self.failed_node: Optional[int] = None
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        self.log.write(text, time.time())

    # -- lifecycle ---------------------------------------------------------------------

    def run(self) -> int:
        self.store.update(self.job_id, state=JobState.RUNNING, unless_ended=True)
        if "workdir_files" in self.plan:
            from mlx.backends.local.workdir import summary

            for line in summary(self.plan["workdir_files"], self.plan["workdir"]):
                self.say(line)
        try:
            self._fetch_remote_inputs()
        except Exception as e:
            return self._finish(JobState.FAILED, 1, f"could not download an input: {e}")
        if cancel_requested(self.job_dir):
            self.cancelled = True
        if self.cancelled:
            return self._finish(JobState.CANCELLED, None, f"{self.cancel_reason} before it started")
        codes = self._run_nodes()
        return self._conclude(codes)

    def _conclude(self, codes: list[int]) -> int:
        if self.cancelled:
            return self._finish(JobState.CANCELLED, None, self.cancel_reason)
        if self.failed_node is not None:
            code = codes[self.failed_node]
            where = f"node {self.failed_node} " if len(codes) > 1 else ""
            return self._finish(JobState.FAILED, code, f"{where}exited with code {code}")
        self._copy_outputs()
        return self._finish(JobState.SUCCEEDED, 0, None)

    def _finish(self, state: JobState, code: Optional[int], message: Optional[str]) -> int:
        if message:
            self.say(f"job {state.value}: {message}")
        record_outcome(
            self.job_dir,
            self.store,
            self.job_id,
            state,
            code,
            message,
            metrics=read_metrics(self.job_dir),
        )
        self.log.close()
        return 0 if state == JobState.SUCCEEDED else 1

    def cancel(self, reason: str = "cancelled", signum: int = signal.SIGTERM) -> None:
        """Stop every node (SIGTERM, then SIGKILL after a grace period)."""
        self.cancel_reason = reason
        self.cancelled = True
        self._stop_all(signum)

    def _stop_all(self, signum: int = signal.SIGTERM) -> None:
        with self._lock:
            for child in self.children:
                if child.poll() is None:
                    signal_group(child.pid, signum)
        threading.Thread(target=self._kill_after_grace, daemon=True).start()

    def _kill_after_grace(self) -> None:
        deadline = time.monotonic() + GRACE_SECONDS
        while time.monotonic() < deadline:
            if all(child.poll() is not None for child in self.children):
                return
            time.sleep(0.1)
        for child in self.children:
            if child.poll() is None:
                signal_group(child.pid, signal.SIGKILL)

    # -- nodes -------------------------------------------------------------------------

    def _node_env(self, rank: int, nodes: int, port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.plan["env"])
        env.update(self.extra_env)
        env.update(
            {
                "MLX_NUM_NODES": str(nodes),
                "MLX_NODE_RANK": str(rank),
                # All nodes on this machine: the master is here, on a free port. The
                # bootstrap sets the other rendezvous variables by the one rule
                # (mlx.runtime.contract.distributed_environment).
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port),
            }
        )
        return env

    def _run_nodes(self) -> list[int]:
        nodes = int(self.plan["nodes"])
        port = free_port()
        threads = []
        for rank in range(nodes):
            # Each node leads its own process group: stopping a node stops what the
            # training script started too, and nothing else (not the supervisor, not
            # the other trials of a tuning job).
            env = self._node_env(rank, nodes, port)
            if sandboxed.wants_sandbox(self.plan):  # `compat: sagemaker`: its own /opt/ml
                child = sandboxed.start_node(self.plan, rank, env, self.say)
            else:
                child = subprocess.Popen(
                    self.plan["bootstrap"],
                    cwd=self.plan["workdir"],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            (self.job_dir / f"node-{rank}.pid").write_text(str(child.pid))
            with self._lock:
                self.children.append(child)
            if self.cancelled or cancel_requested(self.job_dir):  # it raced the start
                self.cancelled = True
                signal_group(child.pid, signal.SIGTERM)
            thread = threading.Thread(target=self._pump, args=(rank, child), daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        return [exit_code(child.wait()) for child in self.children]

    def _pump(self, rank: int, child: subprocess.Popen[bytes]) -> None:
        writer = LogWriter(self.job_dir / "logs" / node_log_name(rank))
        assert child.stdout is not None
        for raw in iter(child.stdout.readline, b""):
            writer.write(raw.decode("utf-8", "replace").rstrip("\r\n"), time.time())
        writer.close()
        code = exit_code(child.wait())
        if code != 0 and not self.cancelled:
            with self._lock:
                first = self.failed_node is None
                if first:
                    self.failed_node = rank
            if first and len(self.children) > 1:
                self.say(f"node {rank} exited with code {code}; stopping the other nodes")
                self._stop_all()

    # -- inputs and outputs ------------------------------------------------------------

    def _fetch_remote_inputs(self) -> None:
        import urllib.request

        for name, item in self.plan.get("downloads", {}).items():
            target = Path(item["path"])
            target.parent.mkdir(parents=True, exist_ok=True)
            self.say(f"downloading input {name} from {item['url']}")
            tmp = target.with_name(target.name + ".part")
            with urllib.request.urlopen(item["url"], timeout=60) as response, open(tmp, "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
            os.replace(tmp, target)

    def _copy_outputs(self) -> None:
        import shutil

        for kind, destination in self.plan.get("copy_outputs", {}).items():
            source = self.job_dir / "artifacts" / kind
            if source.is_symlink() or source.parent.is_symlink():
                self.say(f"not copying {kind}: the job replaced its folder with a link")
                continue
            self.say(f"copying {kind} to {destination}")
            shutil.copytree(source, destination, ignore=self._skip_links, dirs_exist_ok=True)

    def _skip_links(self, folder: str, names: list[str]) -> list[str]:
        """Links the job left in its outputs: named in mlx.log, never followed or copied."""
        links = [n for n in names if os.path.islink(os.path.join(folder, n))]
        for name in links:
            self.say(f"not copying {os.path.join(folder, name)}: a symbolic link")
        return links


def exit_code(returncode: int) -> int:
    """A node's exit code as the bootstrap reports one: 128+N for signal N (``Popen``
    gives -N when the process itself died of it, as one that became the command does:
    ``mlx.runtime.bootstrap.may_exec``)."""
    return 128 - returncode if returncode < 0 else returncode


CANCEL_MARKER = "cancel-requested"


def cancel_requested(job_dir: Path) -> bool:
    """``mlx cancel`` leaves this marker first, so a job cancelled before its supervisor
    was up (or could take a signal) still never runs."""
    return (job_dir / CANCEL_MARKER).exists()


def signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def stop_orphaned_nodes(job_dir: Path) -> None:
    """Stop node processes whose supervisor died (``kill -9``): each leads its own group.

    A pid is signalled only while it still runs this job: its bootstrap (the command line
    names the job dir) or the command the bootstrap became (``bootstrap.may_exec``; its
    environment holds the job's ``MLX_JOB_ID``), so a recycled pid is never hit.
    """
    for pid_file in job_dir.glob("node-*.pid"):
        try:
            pid = int(pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if str(job_dir).encode() in cmdline or f"MLX_JOB_ID={job_dir.name}".encode() in environ:
            signal_group(pid, signal.SIGKILL)


def record_outcome(
    job_dir: Path,
    store: Store,
    job_id: str,
    state: JobState,
    code: Optional[int],
    message: Optional[str],
    **changes: Any,
) -> None:
    """How a job ended: ``exit.json`` (atomically; what ``status`` reads) and the store.

    The store keeps the first end it is told (``unless_ended``), so a ``cancel`` that
    raced the job's own end does not overwrite it.
    """
    outcome = {"state": state.value, "exit_code": code, "message": message, "ended_at": time.time()}
    tmp = job_dir / "exit.json.tmp"
    tmp.write_text(json.dumps(outcome))
    os.replace(tmp, job_dir / "exit.json")
    store.update(job_id, unless_ended=True, state=state, exit_code=code, message=message, **changes)


def read_metrics(job_dir: Path) -> dict[str, float]:
    """Each metric's last value from the bootstrap's ``metrics.jsonl``."""
    try:
        # The job's own process writes it: a damaged line (bytes that are not UTF-8, a
        # line cut by a full disk) is skipped, never fatal to the reader.
        with open(job_dir / "metrics.jsonl", encoding="utf-8", errors="replace") as f:
            return parse_metrics(f)
    except FileNotFoundError:
        return {}


def parse_metrics(lines: Iterable[str]) -> dict[str, float]:
    """Each metric's last value from ``metrics.jsonl`` lines (cloud backends read the file
    the bootstrap wrote in the job's storage)."""
    last: dict[str, float] = {}
    for line in lines:
        try:
            item = json.loads(line)
            if isinstance(item["name"], str):
                last[item["name"]] = float(item["value"])
        except (ValueError, KeyError, TypeError, IndexError):
            continue
    return last


class _Worker(Protocol):
    def run(self) -> int: ...
    def cancel(self) -> None: ...


def run_detached(argv: list[str], build: Callable[[Path], _Worker]) -> int:
    """The life of a detached job process (a supervisor or a tuning driver) for the job dir
    ``argv[0]``: hold its lock, take SIGTERM as cancel, publish the pid, run."""
    job_dir = Path(argv[0])
    if acquire_lock(job_dir) is None:
        print(f"another process already runs {job_dir}", file=sys.stderr)
        return 1
    worker = build(job_dir)
    signal.signal(signal.SIGTERM, lambda *_: worker.cancel())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the mlx command
    # Only now may `mlx cancel` find a pid to signal: the handler is in place.
    (job_dir / "supervisor.pid").write_text(str(os.getpid()))
    return worker.run()


def main(argv: list[str]) -> int:
    return run_detached(argv, Supervisor)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
