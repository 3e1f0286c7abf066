"""The local backend, and the reference implementation of the backend interface.

A job is a directory ``$MLX_HOME/jobs/<id>/``::

    plan.json          what the supervisor runs (argv, env, paths) — also ``mlx translate``
    runtime.json       the bootstrap's config (the in-job contract)
    logs/              node-<rank>.log and mlx.log, one timestamped line per output line
    metrics.jsonl      metrics the bootstrap collected (every channel: mlx.runtime.channels)
    mlflow.db, hypertune.metrics   the script's own MLflow store and hypertune file
    artifacts/         model/, checkpoints/, output/
    exit.json          the outcome, written atomically by the supervisor
    supervisor.lock    held by the supervisor while it lives

Every job runs through the same bootstrap zipapp the clouds get.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

from mlx.backends.base import Backend
from mlx.backends.common import masked_secrets, resolve_secrets, runtime_config
from mlx.backends.local import sandboxed
from mlx.backends.local.run import CANCEL_MARKER, read_metrics, stop_orphaned_nodes
from mlx.bootstrap_package import unpacked_bootstrap
from mlx.errors import BackendError, BackendUnavailable, SpecError
from mlx.logfiles import (
    LogTailer,
    complete_end,
    log_files,
    merge_by_time,
    node_of,
    stream,
    tail_start,
)
from mlx.model import (
    Artifact,
    JobKind,
    JobRecord,
    JobState,
    JobStatus,
    LogLine,
    LogQuery,
    Progress,
    Submission,
)
from mlx.runtime.placeholders import OUTPUT_DIRS, values_of
from mlx.settings import mlx_home
from mlx.spec import OUTPUT_KINDS, JobSpec, uri_scheme
from mlx.spec_argv import resolved

if TYPE_CHECKING:
    from mlx.cloud.objects import ObjectStore

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
        plan["argv"] = self.with_paths(spec, job_id).argv()
        return plan

    def with_paths(self, spec: JobSpec, job_id: str) -> JobSpec:
        """``spec`` with its placeholders (``${{inputs.x}}``...) resolved: every path of a
        local job is known before it starts."""
        artifacts = self.job_dir(job_id) / "artifacts"
        config: dict[str, Any] = {key: str(artifacts / kind) for kind, key in OUTPUT_DIRS.items()}
        config.update(job_id=job_id, inputs=self._inputs(spec, self.job_dir(job_id))[0])
        return resolved(spec, values_of(config, {}))

    def _plan(
        self, spec: JobSpec, job_id: str, secrets: dict[str, str], write: bool = True
    ) -> dict[str, Any]:
        spec = self.with_paths(spec, job_id)
        job_dir = self.job_dir(job_id)
        artifacts = job_dir / "artifacts"
        # The job runs in its own copy of `code` (of the spec's folder without one), made by
        # prepare (workdir.py): never in the user's folder, whatever the job writes there.
        workdir = str(job_dir / "code")
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
            # The script's hypertune file and MLflow store (mlx.runtime.channels): the job's.
            channels_dir=str(job_dir),
            workdir=workdir,
            may_exec=True,  # the supervisor reads a signal's exit as 128+N (bootstrap.may_exec)
            **self._requirements(spec, job_dir),
        )
        bootstrap = unpacked_bootstrap(self.home / "cache", write=write)
        return {
            "job_id": job_id,
            "job_dir": str(job_dir),
            "store": str(self.home / "jobs.db"),
            "code_source": str(spec.code_dir() or spec.base_dir),
            "workdir": workdir,
            "nodes": spec.resources.nodes,
            "bootstrap_code": str(bootstrap),  # the folder ``bootstrap`` runs
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

    @staticmethod
    def _requirements(spec: JobSpec, job_dir: Path) -> dict[str, Any]:
        """What the bootstrap does with requirements.txt (mlx.runtime.requirements): on
        this machine nothing goes into the user's Python unless asked (``--isolated``)."""
        from mlx.backends.local.settings import settings_of

        if not spec.install_requirements:
            return {"requirements": "off"}
        if settings_of(spec).isolated:
            return {"requirements": "venv", "venv_dir": str(job_dir / "venv")}
        return {"requirements": "warn"}

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
        if spec.compat:  # its nodes run in a sandbox (sandboxed.py)
            sandboxed.check(spec)
        from mlx.backends.local.workdir import make_workdir

        plan = self._plan(spec, job_id, secrets=resolve_secrets(spec))
        job_dir = Path(plan["job_dir"])
        for kind in OUTPUT_KINDS:
            (job_dir / "artifacts" / kind).mkdir(parents=True, exist_ok=True)
        (job_dir / "logs").mkdir(exist_ok=True)
        # Taken now, as a cloud upload would be: later edits do not reach a queued job.
        placed = make_workdir(
            Path(plan["code_source"]), Path(plan["workdir"]), exclude=(self.home.resolve(),)
        )
        plan["workdir_files"] = placed.shown()
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

    def preflight(self, spec: JobSpec, kind: JobKind) -> None:
        """Local tuning runs Optuna in a detached driver: without it the driver could only
        fail, out of sight, after the job was listed."""
        from mlx.providers import installed

        if kind == JobKind.TUNING and not installed("optuna"):
            raise BackendUnavailable(
                "local tuning needs optuna, which is not installed",
                hint="pip install 'mlx-jobs[tune]'",
            )

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

    def live_metrics(self, record: JobRecord) -> dict[str, float]:
        """From the bootstrap's ``metrics.jsonl`` in the job's folder: a file read."""
        return read_metrics(self.job_dir(record.id))

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
        """History streamed from the files (memory does not grow with them), then, with
        ``follow``, what is appended until the job ends."""
        job_dir = self.job_dir(record.id)
        ends = {path: complete_end(path) for path in self._log_files(job_dir, query)}
        yield from history(ends, query)
        if not query.follow:
            return
        tailers = {path: LogTailer(path, end) for path, end in ends.items()}

        def batch() -> list[LogLine]:
            for path in self._log_files(job_dir, query):
                tailers.setdefault(path, LogTailer(path))
            lines = merge_by_time(t.read_new() for t in tailers.values())
            return [line for line in lines if _wanted(line, query)]

        while True:
            ended = self.status(record).state.terminal
            yield from batch()  # after an end seen above, this drains the last lines
            while any(t.behind for t in tailers.values()):
                yield from batch()
            if ended:
                return
            time.sleep(self.pacing.poll)

    @staticmethod
    def _log_files(job_dir: Path, query: LogQuery) -> list[Path]:
        paths = log_files(job_dir / "logs")
        if query.node is None:
            return paths
        return [p for p in paths if node_of(p) == query.node]

    # -- artifacts ---------------------------------------------------------------------

    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        """The regular files under the job's ``artifacts/``. Links are never followed (the
        job's own code could point one at any file of this user's): they are skipped, with
        a warning that names them; an ``artifacts`` that is itself a link is refused."""
        root = self._artifacts_root(record)
        found: list[Artifact] = []
        skipped: list[str] = []
        for folder, dirs, files in os.walk(root):  # does not descend into linked folders
            base = Path(folder)
            for name in sorted([*dirs, *files]):
                path = base / name
                relative = path.relative_to(root).as_posix()
                info = path.lstat()
                if stat.S_ISREG(info.st_mode):
                    found.append(Artifact(relative, info.st_size, modified=info.st_mtime))
                elif not stat.S_ISDIR(info.st_mode):
                    skipped.append(relative)
        if skipped:
            from mlx.console import warn
            from mlx.text import printable

            shown = ", ".join(printable(p) for p in skipped[:5]) + (", ..." * (len(skipped) > 5))
            warn(
                f"skipped {len(skipped)} link(s) or special file(s) in the artifacts of "
                f"{record.id}, which mlx never follows or copies: {shown}"
            )
        return sorted(found, key=lambda a: a.path)

    def _artifacts_root(self, record: JobRecord) -> Path:
        root = self.job_dir(record.id) / "artifacts"
        for path in (root.parent, root):
            if path.is_symlink():
                raise BackendError(
                    f"{path} is a symbolic link (to {os.readlink(path)}); mlx does not follow it",
                    hint="A local job's artifacts are the files inside its own folder; "
                    "the job replaced that folder with a link.",
                )
        return root

    def tensorboard_places(self, record: JobRecord) -> list[tuple[ObjectStore, str]]:
        from mlx.tensorboard.stores import LocalFolder

        return [(LocalFolder(self._artifacts_root(record)), "output/tensorboard/")]

    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        self._artifacts_root(record)
        fd = _open_inside(self.home / "jobs", [record.id, "artifacts", *artifact.path.split("/")])
        with open(fd, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
                progress(len(chunk))


def _open_inside(base: Path, parts: list[str]) -> int:
    """A file descriptor for ``base/parts...`` opened one component at a time without
    following any link (``O_NOFOLLOW`` from each folder's descriptor): a link swapped in
    after the listing is refused, not followed."""
    directory = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory)
            os.close(directory)
            directory = inner
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise BackendError(
                f"{'/'.join(parts[2:])} became a symbolic link after it was listed; mlx does "
                "not follow it"
            ) from None
        raise
    finally:
        os.close(directory)


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


def history(ends: dict[Path, int], query: LogQuery) -> Iterator[LogLine]:
    """The lines written before ``ends``, merged by time; the last ``query.tail`` only when
    asked. Memory is a few blocks per file, whatever the files' sizes or ``tail``: each
    file's tail is found by reading it backwards, and several files' merged tail by
    counting the merged lines once, then skipping all but the last ``tail``."""

    def keep(line: LogLine) -> bool:
        return _wanted(line, query)

    starts = dict.fromkeys(ends, 0)
    if query.tail is not None:
        starts = {
            path: tail_start(path, end, query.tail, keep, query.since) for path, end in ends.items()
        }

    def merged() -> Iterator[LogLine]:
        streams = [stream(path, starts[path], end, keep) for path, end in ends.items()]
        return merge_by_time(streams)

    if len(ends) == 1:
        ((path, end),) = ends.items()
        yield from stream(path, starts[path], end, keep)
        return
    if query.tail is None:
        yield from merged()
        return
    total = sum(1 for _ in merged())
    yield from itertools.islice(merged(), max(0, total - query.tail), None)


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
