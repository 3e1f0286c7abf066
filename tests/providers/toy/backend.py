"""The toy provider's backend: the ``Backend`` interface over a directory "cloud"."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlx.backends.base import Backend
from mlx.cloud.objects import file_digest
from mlx.model import (
    Artifact,
    JobRecord,
    JobState,
    JobStatus,
    LogLine,
    LogQuery,
    Progress,
    Submission,
    TrialStatus,
)
from mlx.settings import mlx_home
from mlx.spec import JobSpec

REPO = Path(__file__).resolve().parents[3]
_STATES = {
    "running": JobState.RUNNING,
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}


class ToyBackend(Backend):
    name = "toy"

    # -- where jobs are ----------------------------------------------------------------

    def _root(self, settings: Any) -> Path:
        return Path(settings.root) if settings.root else mlx_home() / "toy-cloud"

    def _dir(self, record: JobRecord) -> Path:
        return Path(record.location["root"]) / (record.native_id or record.id)

    # -- render and submit -------------------------------------------------------------

    def render(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        return {"name": job_id, "argv": spec.argv(), "nodes": spec.resources.nodes}

    def render_tuning(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        assert spec.tune is not None
        (name, param), *_ = spec.tune.parameters.items()
        request = {**self.render(spec, job_id), "nodes": 1, "trials": spec.tune.max_trials}
        request.update(parameter=name, min=param.min, max=param.max, seed=spec.tune.seed or 0)
        return request

    def submit(self, spec: JobSpec, job_id: str) -> Submission:
        return self._start(spec, job_id, self.render(spec, job_id))

    def submit_tuning(self, spec: JobSpec, job_id: str) -> Submission:
        return self._start(spec, job_id, self.render_tuning(spec, job_id))

    def _start(self, spec: JobSpec, job_id: str, request: dict[str, Any]) -> Submission:
        root = self._root(spec.provider_settings("toy"))
        job_dir = root / job_id
        code = job_dir / "code"
        shutil.copytree(spec.code_dir() or spec.base_dir, code)  # the "upload"
        (job_dir / "job.json").write_text(json.dumps({**request, "cwd": str(code)}))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        runner = subprocess.Popen(
            [sys.executable, "-m", "tests.providers.toy.runner", str(job_dir)],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        (job_dir / "runner.pid").write_text(str(runner.pid))
        return Submission(job_id, (job_dir / "model").as_uri(), location={"root": str(root)})

    # -- state -------------------------------------------------------------------------

    def status(self, record: JobRecord) -> JobStatus:
        job_dir = self._dir(record)
        state = (job_dir / "state").read_text() if (job_dir / "state").exists() else None
        cancelled = state in (None, "running") and (job_dir / "cancel").exists()
        if cancelled and not _alive(int((job_dir / "runner.pid").read_text())):
            return JobStatus(JobState.CANCELLED)  # stopped before it could say so
        return JobStatus(_STATES[state] if state else JobState.PENDING)

    def cancel(self, record: JobRecord) -> None:
        job_dir = self._dir(record)
        (job_dir / "cancel").touch()
        os.kill(int((job_dir / "runner.pid").read_text()), signal.SIGTERM)

    def list_trials(self, record: JobRecord) -> list[TrialStatus]:
        trials = self._dir(record) / "trials"
        found = []
        metric = record.objective_metric or ""
        for trial_dir in sorted(trials.glob("*"), key=lambda p: int(p.name)):
            state_file = trial_dir / "state"
            state = _STATES[state_file.read_text()] if state_file.exists() else JobState.PENDING
            params = json.loads((trial_dir / "params.json").read_text())
            found.append(
                TrialStatus(
                    number=int(trial_dir.name),
                    native_id=f"{record.native_id}/trials/{trial_dir.name}",
                    state=state,
                    params=params,
                    objective=_last_value(trial_dir / "logs" / "node-0.log", metric),
                )
            )
        return found

    # -- logs --------------------------------------------------------------------------

    def logs(self, record: JobRecord, query: LogQuery) -> Iterator[LogLine]:
        offsets: dict[Path, int] = {}
        while True:
            ended = self.status(record).state.terminal
            for node, path in enumerate(sorted((self._dir(record) / "logs").glob("node-*.log"))):
                if query.node is not None and node != query.node:
                    continue
                data = path.read_bytes()
                done = data.rfind(b"\n") + 1
                for text in data[offsets.get(path, 0) : done].decode().splitlines():
                    yield LogLine(time.time(), text, node)
                offsets[path] = done
            if ended or not query.follow:
                return
            time.sleep(self.pacing.log_poll)

    # -- artifacts ---------------------------------------------------------------------

    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        model = self._dir(record) / "model"
        files = sorted(p for p in model.rglob("*") if p.is_file())
        return [
            Artifact(
                f"model/{p.relative_to(model).as_posix()}",
                p.stat().st_size,
                checksum=file_digest(p, hashlib.md5()).hex(),
            )
            for p in files
        ]

    def local_checksum(self, path: Path, artifact: Artifact) -> str:
        return file_digest(path, hashlib.md5()).hex()

    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        source = self._dir(record) / artifact.path
        shutil.copyfile(source, target)
        progress(source.stat().st_size)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # the runner is this process's child
    except ChildProcessError:
        waited = 0
    if waited:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _last_value(log: Path, metric: str) -> float | None:
    if not log.exists():
        return None
    found = re.findall(rf"\b{re.escape(metric)}=([-+0-9.eE]+)", log.read_text())
    return float(found[-1]) if found else None
