"""``tune.engine: mlx`` on every cloud, through the real CLI: mlx's own search on this
machine, each trial a training job that the emulated cloud really runs (platform runner).

Like ``tests/backends/everyday.Everyday``: each cloud's tests subclass ``EngineScenarios``
(``tests/backends/<provider>/test_engine_mlx.py``) and fill in the hooks that read what its
server received. The script tells trials apart by the trial number in ``MLX_JOB_ID``
(``<tuning id>-t<n>``), so a scenario knows which trial is slow or bad whatever the
sampler picks.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Optional

import yaml

from tests.conftest import write

OBJECTIVE = """\
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--scenario", default="plain")
a = p.parse_args()
trial = int(os.environ["MLX_JOB_ID"].rsplit("-t", 1)[1])
loss = (a.x - 0.3) ** 2
if a.scenario == "prune" and trial == 3:  # clearly bad, and slow: pruned while it runs
    for step in range(1, 6):
        print(f"step={step} loss=100", flush=True)
        time.sleep(1)
    time.sleep(60)
elif a.scenario == "prune":
    for step in range(1, 6):
        print(f"step={step} loss={loss}", flush=True)
elif a.scenario == "slow" and trial == 1:  # still running when the driver is killed
    time.sleep(5)
with open(os.path.join(os.environ["MLX_MODEL_DIR"], "x.txt"), "w") as f:
    f.write(repr(a.x))
print(f"loss={loss}", flush=True)
"""
TOLERANCE = 0.01  # of (x - 0.3)^2: |x - 0.3| < 0.1 within the budget


class EngineScenarios:
    # -- hooks -------------------------------------------------------------------------

    def spec_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def created(self) -> list[str]:
        """The mlx ids of the training jobs the cloud created, once per job it runs."""
        raise NotImplementedError

    def stopped(self) -> list[str]:
        """The mlx ids of the jobs the cloud was asked to stop (cancel)."""
        raise NotImplementedError

    def lose_next_create(self) -> Any:
        """The next create reaches the server, which acts, and its answer is lost; the
        ``Fault`` (``tests/emulators/faults.py``)."""
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------------------

    def spec(self, tmp_path: Path, scenario: str = "plain", **tune: Any) -> Path:
        write(tmp_path / "project" / "code" / "objective.py", OBJECTIVE)
        settings = {
            "engine": "mlx",
            "objective": {"metric": "loss", "goal": "minimize"},
            "algorithm": "bayesian",
            "seed": 7,
            "max_trials": 6,
            "parallel_trials": 2,
            "parameters": {"x": {"type": "float", "min": 0.0, "max": 1.0}},
            **tune,
        }
        doc = {
            "name": "engine",
            "command": "python objective.py",
            "code": "./code",
            "hyperparameters": {"scenario": scenario},
            "metrics": [{"name": "loss"}],
            "tune": settings,
            **self.spec_fields(),
        }
        return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))

    @staticmethod
    def tune(mlx: Any, *args: Any) -> dict[str, Any]:
        result = mlx("tune", *args, "--json")
        assert result.exit_code == 0, result.stderr
        summary: dict[str, Any] = json.loads(result.stdout)
        return summary

    # -- the scenarios -----------------------------------------------------------------

    def test_finds_the_optimum_as_local_does_and_a_lost_create_starts_nothing_twice(
        self, mlx: Any, tmp_path: Path
    ) -> None:
        lost = self.lose_next_create()
        # One trial at a time: each sample then depends on the seed and the values told
        # alone, so the search must go exactly as local's (with trials in parallel, which
        # trials have ended when the next is asked depends on timing: bench/engine.py).
        path = self.spec(tmp_path, parallel_trials=1)
        study = self.tune(mlx, path)
        assert lost.fired == 1
        assert study["state"] == "succeeded"
        assert [t["state"] for t in study["trials"]] == ["succeeded"] * 6
        ids = sorted(t["id"] for t in study["trials"])
        # Six trials, six jobs: the first create's lost answer was settled by a lookup.
        assert sorted(self.created()) == ids
        local = self.tune(mlx, path, "-p", "local")
        assert [t["params"] for t in study["trials"]] == [t["params"] for t in local["trials"]]
        best = study["best"]["objective"]
        assert best == local["best"]["objective"] and best < TOLERANCE
        # The best trial is a training job of the cloud: its logs and artifacts are there.
        logs = mlx("logs", study["id"], "--trial", "best")
        assert logs.exit_code == 0, logs.stderr
        assert f"loss={best}" in logs.stdout
        pulled = mlx("pull-artifacts", study["id"], "--trial", "best", "--dest", tmp_path / "best")
        assert pulled.exit_code == 0, pulled.stderr
        assert (
            float((tmp_path / "best" / "model" / "x.txt").read_text())
            == (study["best"]["params"]["x"])
        )
        status = mlx("status", study["id"])
        assert f"Best trial #{study['best']['number']}: loss={best:.6g}" in status.stdout
        listed = json.loads(mlx("jobs", "--json").stdout)
        mine = next(j for j in listed if j["id"] == study["id"])
        assert mine["provider"] == self.spec_fields()["provider"]

    def test_early_stopping_stops_a_bad_trial_on_the_cloud(self, mlx: Any, tmp_path: Path) -> None:
        path = self.spec(
            tmp_path, "prune", algorithm="random", max_trials=4, parallel_trials=1,
            early_stopping=True,
        )  # fmt: skip
        study = self.tune(mlx, path)
        states = {t["number"]: t["state"] for t in study["trials"]}
        assert states == {0: "succeeded", 1: "succeeded", 2: "succeeded", 3: "pruned"}
        bad = next(t["id"] for t in study["trials"] if t["number"] == 3)
        assert self.stopped() == [bad]
        trial = json.loads(mlx("status", study["id"], "--trial", "3", "--json").stdout)
        assert trial["state"] == "cancelled"  # the cloud's word for a stopped job
        driver_log = mlx("logs", study["id"]).stdout
        assert "[mlx] trial 3 pruned at step " in driver_log

    def test_resume_after_kill_9_reattaches_and_creates_no_trial_twice(
        self, mlx: Any, tmp_path: Path
    ) -> None:
        path = self.spec(tmp_path, "slow", algorithm="random", max_trials=4)
        started = mlx("tune", path, "--detach", "--json")
        assert started.exit_code == 0, started.stderr
        job = json.loads(started.stdout)["id"]
        slow = self.wait_for(mlx, job, lambda t: t[0]["state"] == "succeeded" and _created(t[1]))
        pid = int((Path(os.environ["MLX_HOME"]) / "jobs" / job / "supervisor.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        _wait_until_failed(mlx, job)  # `status` sees the driver gone
        finished = {t["number"]: t for t in _trials(mlx, job) if t["state"] == "succeeded"}

        study = self.tune(mlx, "--resume", job)
        assert study["state"] == "succeeded"
        by_number = {t["number"]: t for t in study["trials"]}
        for number, trial in finished.items():  # kept, not run again
            assert by_number[number] == trial
        assert by_number[1]["state"] == "succeeded"  # the slow one, watched again
        counted = [t for t in study["trials"] if t["state"] == "succeeded"]
        assert len(counted) == 4
        created = self.created()
        assert len(created) == len(set(created))  # no trial's job created twice
        assert slow in created and set(created) <= {t["id"] for t in study["trials"]}
        assert "[mlx] trial 1 reattached" in mlx("logs", job).stdout

    @staticmethod
    def wait_for(mlx: Any, job: str, ready: Any, timeout: float = 60) -> str:
        """Wait until ``ready((trial 0, trial 1's status))``; trial 1's id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            trials = {t["number"]: t for t in _trials(mlx, job)}
            if 0 in trials and 1 in trials:
                one = json.loads(mlx("status", trials[1]["id"], "--json").stdout)
                if ready((trials[0], one)):
                    return str(one["id"])
            time.sleep(0.1)
        raise AssertionError(f"{job}: trial 0 did not end while trial 1 ran, within {timeout}s")


def _trials(mlx: Any, job: str) -> list[dict[str, Any]]:
    trials: list[dict[str, Any]] = json.loads(mlx("status", job, "--json").stdout)["trials"]
    return trials


def _created(status: dict[str, Any]) -> Optional[bool]:
    """Trial 1's job exists on the cloud and has not ended."""
    return bool(status.get("native_id")) and status["state"] in ("pending", "running")


def _wait_until_failed(mlx: Any, job: str) -> None:
    for _ in range(200):
        if json.loads(mlx("status", job, "--json").stdout)["state"] == "failed":
            return
        time.sleep(0.05)
    raise AssertionError(f"{job}: the killed driver is not seen gone")
