"""``mlx tensorboard --sync-only`` on a local job that writes TensorBoard scalars while it
runs: the first steps arrive while the job waits, the next ones after, and the second
round fetches only the bytes the file gained."""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backends.contract import started
from tests.conftest import write
from tests.tensorboard.events import SCRIPT, scalar_runs


def synced(mlx: Any, *args: Any) -> dict[str, Any]:
    result = mlx("tensorboard", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def local_spec(tmp_path: Path, gate: Path) -> Path:
    write(tmp_path / "project" / "code" / "job.py", SCRIPT)
    doc = {
        "name": "tb",
        "provider": "local",
        "command": "python job.py",
        "code": "./code",
        "hyperparameters": {"lr": 0.5},
        "env": {"TB_GATE": str(gate)},
    }
    return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc))


def event_file(cache: Path, run: str) -> Path:
    (found,) = (cache / run).glob("events.out.tfevents.*")
    return found


def test_a_running_local_job_is_copied_then_only_its_new_bytes(mlx: Any, tmp_path: Path) -> None:
    gate, cache = tmp_path / "go", tmp_path / "tb"
    first = mlx("train", local_spec(tmp_path, gate), "--detach")
    assert first.exit_code == 0, first.stderr
    job = started(first.stderr)
    remote = None
    deadline = time.time() + 30
    while time.time() < deadline:  # the job writes 3 steps, then waits for the gate
        got = synced(mlx, job, "--sync-only", cache, "--once")
        if got["runs"][0]["bytes"]:
            remote = next(
                Path(os.environ["MLX_HOME"]).rglob("artifacts/output/tensorboard/events.*")
            )
            break
        time.sleep(0.1)
    assert remote is not None, "no event file while the job ran"
    (run,) = got["runs"]
    assert (run["run"], run["job"], run["state"]) == (job, job, "running")
    held = event_file(cache, job).stat().st_size
    assert held == run["bytes"] and held > 0

    gate.touch()
    rest = synced(mlx, job, "--sync-only", cache, "--every", "0.1")  # until the job ends
    (run,) = rest["runs"]
    assert run["state"] == "succeeded"
    assert run["bytes"] == remote.stat().st_size - held  # only what the file gained
    assert run["refetched"] == []
    assert event_file(cache, job).read_bytes() == remote.read_bytes()

    again = synced(mlx, job, "--sync-only", cache, "--once")
    assert again["runs"][0]["bytes"] == 0  # nothing new: nothing fetched


def test_tensorboard_reads_the_copy_as_one_run_per_job(mlx: Any, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    gate, cache = tmp_path / "go", tmp_path / "tb"
    gate.touch()
    spec = local_spec(tmp_path, gate)
    jobs = []
    for lr in ("0.5", "0.25"):
        result = mlx("train", spec, "--set", f"hyperparameters.lr={lr}", "--detach")
        assert result.exit_code == 0, result.stderr
        jobs.append(started(result.stderr))
    done = synced(mlx, *jobs, "--sync-only", cache, "--every", "0.1")  # until both ended
    assert [r["state"] for r in done["runs"]] == ["succeeded", "succeeded"]
    assert scalar_runs(cache) == {job: [0, 1, 2, 3, 4, 5] for job in jobs}


def test_each_trial_of_a_tuning_job_is_a_run_named_by_its_values(mlx: Any, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    gate, cache = tmp_path / "go", tmp_path / "tb"
    gate.touch()
    spec = yaml.safe_load(local_spec(tmp_path, gate).read_text())
    spec["metrics"] = [{"name": "loss"}]
    spec["tune"] = {
        "objective": {"metric": "loss", "goal": "minimize"},
        "algorithm": "grid",
        "max_trials": 2,
        "parallel_trials": 1,
        "parameters": {"lr": {"type": "discrete", "values": [0.25, 0.5]}},
    }
    path = write(tmp_path / "project" / "tune.yaml", yaml.safe_dump(spec))
    result = mlx("tune", path, "--detach")
    assert result.exit_code == 0, result.stderr
    tune = started(result.stderr)
    done = synced(mlx, tune, "--sync-only", cache, "--every", "0.1")  # until it ended
    names = {r["run"]: r for r in done["runs"]}
    one, two = sorted(names)  # the grid's order is the sampler's
    assert {one[len(tune) :], two[len(tune) :]} in (
        {"/trial-0_lr=0.25", "/trial-1_lr=0.5"},
        {"/trial-0_lr=0.5", "/trial-1_lr=0.25"},
    )
    assert all(r["bytes"] > 0 and r["state"] == "succeeded" for r in names.values())
    if importlib.util.find_spec("tensorboard"):
        assert scalar_runs(cache) == {name: [0, 1, 2, 3, 4, 5] for name in names}
