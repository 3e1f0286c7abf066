"""The local backend, and the reference implementation of the backend interface.

A job is a directory ``$MLX_HOME/jobs/<id>/``::

    plan.json          what the supervisor runs (argv, env, paths) — also ``mlx translate``
    runtime.json       the bootstrap's config (the in-job contract)
    logs/              node-<rank>.log and mlx.log, one timestamped line per output line
    metrics.jsonl      metrics the bootstrap parsed from stdout
    artifacts/         model/, checkpoints/, output/
    exit.json          the outcome, written atomically by the supervisor
    supervisor.lock    held by the supervisor while it lives

Every job runs through the same bootstrap zipapp the clouds get.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

from mlx.backends.base import Backend
from mlx.backends.common import masked_secrets, resolve_secrets, runtime_config
from mlx.backends.local.run import CANCEL_MARKER, read_metrics, stop_orphaned_nodes
from mlx.bootstrap_package import bootstrap_path
from mlx.errors import SpecError
from mlx.logfiles import LogTailer, log_files, merge_by_time
from mlx.model import (
    Artifact,
    JobRecord,
    JobState,
    JobStatus,
    LogLine,
    LogQuery,
    Progress,
    Submission,
)
from mlx.settings import mlx_home
from mlx.spec import OUTPUT_KINDS, JobSpec, uri_scheme

NEVER_STARTED_AFTER = 60.0  # a job whose supervisor never appeared by then is failed


class LocalBackend(Backend):
    name = "local"

    def __init__(self, home: Optional[Path] = None) -> None:
        self._home = home

    @property
    def home(self) -> Path:
        """Where jobs live: the given home, else ``$MLX_HOME`` as it is now (one backend
        serves a whole process)."""
        return self._home or mlx_home()

    def job_dir(self, job_id: str) -> Path:
        return self.home / "jobs" / job_id

    # -- render and submit -------------------------------------------------------------

    def render(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        plan = self._plan(spec, job_id, secrets=masked_secrets(spec), write=False)
        plan["argv"] = spec.argv()
        return plan

    def _plan(
        self, spec: JobSpec, job_id: str, secrets: dict[str, str], write: bool = True
    ) -> dict[str, Any]:
        job_dir = self.job_dir(job_id)
        artifacts = job_dir / "artifacts"
        inputs, downloads = self._inputs(spec, job_dir)
        runtime = runtime_config(
            spec,
            job_id,
            "local",
            inputs=inputs,
            model_dir=str(artifacts / "model"),
            checkpoint_dir=str(artifacts / "checkpoints"),
            output_dir=str(artifacts / "output"),
            metrics_file=str(job_dir / "metrics.jsonl"),
        )
        bootstrap = bootstrap_path(self.home / "cache", write=write)
        workdir = spec.code_dir() or spec.base_dir
        return {
            "job_id": job_id,
            "job_dir": str(job_dir),
            "store": str(self.home / "jobs.db"),
            "workdir": str(workdir),
            "nodes": spec.resources.nodes,
            "bootstrap": [
                sys.executable,
                # The bootstrap needs only the standard library: -S skips site-packages'
                # .pth files, which cost this machine ~50 ms per start.
                "-S",
                str(bootstrap),
                "--config",
                str(job_dir / "runtime.json"),
                "--",
                *spec.command_argv(),
                *spec.args,
            ],
            "env": {**spec.env, **secrets},
            "runtime": runtime,
            "downloads": downloads,
            "copy_outputs": self._copy_outputs(spec),
        }

    def _inputs(self, spec: JobSpec, job_dir: Path) -> tuple[dict[str, str], dict[str, Any]]:
        paths: dict[str, str] = {}
        downloads: dict[str, Any] = {}
        for name, uri in spec.inputs.items():
            local = spec.local_input_path(name)
            if local is not None:
                paths[name] = str(local)
                continue
            scheme = uri_scheme(uri)
            if scheme not in ("http", "https"):
                raise SpecError(
                    f"`inputs.{name}`: the local provider cannot read {scheme}:// URIs",
                    hint=f"Download it first, or run with --provider for {scheme}:// data.",
                )
            filename = Path(urlsplit(uri).path).name or name
            target = job_dir / "inputs" / name / filename
            paths[name] = str(target)
            downloads[name] = {"url": uri, "path": str(target)}
        return paths, downloads

    def _copy_outputs(self, spec: JobSpec) -> dict[str, str]:
        copies: dict[str, str] = {}
        for kind, destination in spec.outputs.items():
            if destination is None:
                continue
            if uri_scheme(destination) not in (None, "file"):
                raise SpecError(
                    f"`outputs.{kind}`: the local provider writes to local paths only "
                    f"(got {destination})",
                    hint="Leave it out (artifacts stay in mlx's job dir) or give a path.",
                )
            path = (
                destination[len("file://") :] if destination.startswith("file://") else destination
            )
            copies[kind] = str((spec.base_dir / os.path.expanduser(path)).resolve())
        return copies

    def prepare(self, spec: JobSpec, job_id: str) -> tuple[Path, dict[str, str]]:
        """Write the job dir; return it and the secret values its processes need.

        Secret values reach the job through the supervisor's environment, never a file.
        """
        plan = self._plan(spec, job_id, secrets=resolve_secrets(spec))
        job_dir = Path(plan["job_dir"])
        for kind in OUTPUT_KINDS:
            (job_dir / "artifacts" / kind).mkdir(parents=True, exist_ok=True)
        (job_dir / "logs").mkdir(exist_ok=True)
        secrets = {name: plan["env"].pop(name) for name in spec.secrets}
        _write_json(job_dir / "runtime.json", plan["runtime"])
        _write_json(job_dir / "plan.json", plan)
        return job_dir, secrets

    def submit(self, spec: JobSpec, job_id: str) -> Submission:
        job_dir, secrets = self.prepare(spec, job_id)
        process = spawn_detached(
            [sys.executable, "-m", "mlx.backends.local.run", str(job_dir)],
            job_dir / "supervisor.out",
            {**os.environ, **secrets},
        )
        return Submission(
            native_id=job_id,
            artifacts_uri=(job_dir / "artifacts").as_uri(),
            info={"job_dir": str(job_dir), "pid": process.pid},
        )

    # -- tuning: a detached driver runs the study (mlx.tuning.driver) ------------------

    def render_tuning(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        from mlx.ids import trial_id
        from mlx.tuning.space import describe

        assert spec.tune is not None
        return {
            "study": describe(spec.tune),
            "job_dir": str(self.job_dir(job_id)),
            "trial": self.render(spec, trial_id(job_id, 0)),
        }

    def submit_tuning(self, spec: JobSpec, job_id: str) -> Submission:
        resolve_secrets(spec)  # a missing secret fails now, not in every trial
        job_dir = self.job_dir(job_id)
        (job_dir / "logs").mkdir(parents=True, exist_ok=True)
        process = self._start_driver(job_dir)
        return Submission(
            native_id=job_id,
            artifacts_uri=job_dir.as_uri(),
            info={"job_dir": str(job_dir), "pid": process.pid},
        )

    def resume_tuning(self, record: JobRecord) -> None:
        """Start a new driver for a study whose driver is gone; finished trials are kept."""
        job_dir = self.job_dir(record.id)
        if _supervisor_alive(job_dir):
            return
        # Until the new driver holds the lock, the job must read as pending, not ended.
        for name in ("supervisor.pid", "exit.json"):
            (job_dir / name).unlink(missing_ok=True)
        self._start_driver(job_dir)

    def _start_driver(self, job_dir: Path) -> subprocess.Popen[bytes]:
        return spawn_detached(
            [sys.executable, "-m", "mlx.tuning.driver", str(job_dir)],
            job_dir / "driver.out",
            dict(os.environ),
        )

    # -- state -------------------------------------------------------------------------

    def status(self, record: JobRecord) -> JobStatus:
        job_dir = self.job_dir(record.id)
        metrics = read_metrics(job_dir)
        outcome = _read_json(job_dir / "exit.json")
        if outcome:
            return JobStatus(
                JobState(outcome["state"]),
                outcome.get("message"),
                outcome.get("exit_code"),
                metrics=metrics,
            )
        if _supervisor_alive(job_dir):
            state = JobState.CANCELLING if record.state == JobState.CANCELLING else JobState.RUNNING
            return JobStatus(state, metrics=metrics)
        if (job_dir / "supervisor.pid").exists():
            # Nobody captures the nodes' output or outcome any more: stop what is left
            # rather than let it run on unseen.
            stop_orphaned_nodes(job_dir)
            if record.is_tuning:
                return JobStatus(
                    JobState.FAILED,
                    "the tuning driver stopped unexpectedly; "
                    f"continue with `mlx tune --resume {record.id}`",
                )
            return JobStatus(
                JobState.FAILED,
                "the local supervisor stopped unexpectedly (killed, or the machine restarted)",
                metrics=metrics,
            )
        if time.time() - record.updated_at > NEVER_STARTED_AFTER:
            return JobStatus(JobState.FAILED, "the job never started")
        return JobStatus(JobState.PENDING)

    def cancel(self, record: JobRecord) -> None:
        job_dir = self.job_dir(record.id)
        if job_dir.is_dir():
            (job_dir / CANCEL_MARKER).touch()
        pid = _read_pid(job_dir)
        if pid is not None and _supervisor_alive(job_dir):
            # The supervisor (or tuning driver) stops its nodes, each a process group.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        else:
            stop_orphaned_nodes(job_dir)

    # -- logs --------------------------------------------------------------------------

    def logs(self, record: JobRecord, query: LogQuery) -> Iterator[LogLine]:
        job_dir = self.job_dir(record.id)
        tailers: dict[Path, LogTailer] = {}

        def batch() -> list[LogLine]:
            for path in log_files(job_dir / "logs"):
                tailers.setdefault(path, LogTailer(path))
            lines = merge_by_time(t.read_new() for t in tailers.values())
            return [line for line in lines if _wanted(line, query)]

        history = batch()
        if query.tail is not None:
            history = list(deque(history, maxlen=query.tail))
        yield from history
        while query.follow:
            ended = self.status(record).state.terminal
            yield from batch()  # after an end seen above, this drains the last lines
            if ended:
                return
            time.sleep(self.pacing.poll)

    # -- artifacts ---------------------------------------------------------------------

    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        root = self.job_dir(record.id) / "artifacts"
        found = []
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                found.append(
                    Artifact(
                        path.relative_to(root).as_posix(), stat.st_size, modified=stat.st_mtime
                    )
                )
        return found

    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        source = self.job_dir(record.id) / "artifacts" / artifact.path
        with open(source, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
                progress(len(chunk))


def spawn_detached(argv: list[str], output: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session of its own, so it outlives mlx and Ctrl-C in the terminal."""
    with open(output, "ab") as log:
        return subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def _wanted(line: LogLine, query: LogQuery) -> bool:
    if query.since is not None and line.time < query.since:
        return False
    return query.node is None or line.node == query.node


def _supervisor_alive(job_dir: Path) -> bool:
    lock = job_dir / "supervisor.lock"
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _read_pid(job_dir: Path) -> Optional[int]:
    try:
        return int((job_dir / "supervisor.pid").read_text())
    except (OSError, ValueError):
        return None


def _read_json(path: Path) -> Optional[dict[str, Any]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
