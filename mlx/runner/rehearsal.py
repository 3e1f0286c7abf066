"""A rehearsal's supervisor: ``python -m mlx.runner.rehearsal JOB_DIR``.

``mlx train/tune SPEC -p <cloud> --rehearse`` stages the job into local folders standing in
for the cloud's buckets and starts this process, detached like a local job's supervisor.
It runs the exact request through the provider's platform runner and keeps what happened
where the local backend's readers find it: each node's lines in ``logs/node-<rank>.log``
(a trial's in its own job folder), ``exit.json`` and the store at the end, the trials of a
tuning job in ``trials.json`` as the platform's tuner reports them.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

from mlx.backends.local.run import record_outcome, run_detached
from mlx.cloud.layout import split_any_uri
from mlx.cloud.objects import ObjectStore
from mlx.ids import trial_id
from mlx.logfiles import MLX_LOG, LogWriter, node_log_name
from mlx.model import JobState
from mlx.runner.folders import FolderStore
from mlx.runner.host import Host, Outcome, Stores, Where
from mlx.runner.runtimes import pick_runtime
from mlx.store import Store

REQUEST_FILE = "rehearsal-request.json"  # the real request (secret values): read, then gone
TRIALS_FILE = "trials.json"


def buckets(home: Path) -> Path:
    """Where rehearsals keep the objects the cloud's buckets would hold."""
    return home / "rehearsal" / "buckets"


def folder_stores(root: Path) -> Stores:
    """``Stores`` over local folders: one ``FolderStore`` per scheme and bucket."""
    made: dict[tuple[str, str], ObjectStore] = {}
    lock = threading.Lock()

    def store(uri: str) -> tuple[ObjectStore, str]:
        scheme, bucket, key = split_any_uri(uri)
        with lock:
            if (scheme, bucket) not in made:
                made[(scheme, bucket)] = FolderStore(root, scheme, bucket)
            return made[(scheme, bucket)], key

    return store


class Rehearsal:
    """Runs one rehearsed job (``run_detached`` gives it its lock and SIGTERM)."""

    def __init__(self, job_dir: Path) -> None:
        self.job_dir = job_dir
        self.plan: dict[str, Any] = json.loads((job_dir / "plan.json").read_text())
        self.job_id: str = self.plan["job_id"]
        self.store = Store(Path(self.plan["store"]))
        self.home = Path(self.plan["home"])
        self.cancelled = threading.Event()
        self._writers: dict[tuple[Optional[str], int], LogWriter] = {}
        self._trials: dict[str, dict[str, Any]] = {}  # platform trial id -> what we know
        self._lock = threading.Lock()

    def run(self) -> int:
        from mlx.providers import get, load_object

        request_path = self.job_dir / REQUEST_FILE
        request = json.loads(request_path.read_text())
        request_path.unlink()
        runner = load_object(get(self.plan["provider"]).runner or "")()
        host = Host(
            store=folder_stores(buckets(self.home)),
            runtime=pick_runtime(self.plan["runtime"]),
            workspace=self.job_dir / "workspace",
            line=self.line,
            event=self.event,
            cancelled=self.cancelled,
        )
        self.store.update(self.job_id, state=JobState.RUNNING, unless_ended=True)
        try:
            if self.plan["kind"] == "tuning":
                outcome = runner.run_tuning(request, host)
            else:
                outcome = runner.run_training(request, host)
        except Exception as e:  # the runner's own failure is the job's, said in mlx.log
            outcome = Outcome("failed", f"the {self.plan['provider']} runner failed: {e}")
        return self.finish(outcome)

    def cancel(self) -> None:
        self.cancelled.set()

    # -- what the runner reports -------------------------------------------------------

    def line(self, where: Where, text: str, at: float) -> None:
        key = (where.trial, where.node)
        with self._lock:
            writer = self._writers.get(key)
            if writer is None:
                folder = self.job_dir if where.trial is None else self.trial_dir(where.trial)
                writer = LogWriter(folder / "logs" / node_log_name(where.node))
                self._writers[key] = writer
            writer.write(text, at)

    def event(self, what: str, details: dict[str, Any]) -> None:
        if what in ("trial-started", "trial-ended") and "id" in details:
            with self._lock:
                trial = self._trial(str(details["id"]))
                trial.update({k: v for k, v in details.items() if k != "id"})
                self._save_trials()

    def _trial(self, native: str) -> dict[str, Any]:
        """The record of platform trial ``native``; numbered from 0 as first seen."""
        if native not in self._trials:
            self._trials[native] = {"number": len(self._trials), "id": native, "state": "running"}
        return self._trials[native]

    def trial_dir(self, native: str) -> Path:
        with_number = self._trial(native)
        return self.job_dir.parent / trial_id(self.job_id, with_number["number"])

    def _save_trials(self) -> None:
        tmp = self.job_dir / (TRIALS_FILE + ".tmp")
        tmp.write_text(json.dumps(sorted(self._trials.values(), key=lambda t: t["number"])))
        os.replace(tmp, self.job_dir / TRIALS_FILE)

    # -- the end -----------------------------------------------------------------------

    def finish(self, outcome: Outcome) -> int:
        with self._lock:
            for trial in outcome.trials:
                self._trial(trial.id).update(
                    params=trial.params,
                    state=trial.state,
                    objective=trial.objective,
                    reason=trial.reason,
                    artifacts_uri=trial.artifacts_uri,
                )
            if self._trials:
                self._save_trials()
            for writer in self._writers.values():
                writer.close()
        state = JobState.CANCELLED if self.cancelled.is_set() else JobState(outcome.state)
        failed = [code for code in outcome.exit_codes if code]
        code = failed[0] if failed else (0 if outcome.exit_codes else None)
        if outcome.reason:
            log = LogWriter(self.job_dir / "logs" / MLX_LOG)
            log.write(f"job {state.value}: {outcome.reason}", time.time())
            log.close()
        changes: dict[str, Any] = {"metrics": outcome.metrics}
        if outcome.artifacts_uri:
            changes["artifacts_uri"] = outcome.artifacts_uri
        record_outcome(
            self.job_dir, self.store, self.job_id, state, code, outcome.reason, **changes
        )
        return 0 if state == JobState.SUCCEEDED else 1


def main(argv: list[str]) -> int:
    return run_detached(argv, Rehearsal)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
