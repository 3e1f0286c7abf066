"""`mlx tune` on the local backend, through the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import subprocess_env, write

QUADRATIC = """\
import argparse
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--y", type=float)
a = p.parse_args()
print(f"loss={(a.x - 3) ** 2 + (a.y + 1) ** 2}")
"""


def quadratic_spec(root: Path, **tune: object) -> Path:
    write(root / "quad.py", QUADRATIC)
    settings = {"algorithm": "bayesian", "max_trials": 30, "parallel_trials": 1, "seed": 3}
    settings.update(tune)
    lines = "\n".join(f"  {k}: {v}" for k, v in settings.items())
    return write(
        root / "quad.yaml",
        f"""\
name: quad
command: python quad.py
metrics: [{{name: loss}}]
tune:
  objective: {{metric: loss, goal: minimize}}
{lines}
  parameters:
    x: {{type: float, min: -10, max: 10}}
    y: {{type: float, min: -10, max: 10}}
""",
    )


def test_bayesian_finds_the_optimum_within_30_trials(mlx, tmp_path: Path) -> None:
    result = mlx("tune", quadratic_spec(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    study = json.loads(result.stdout)
    assert study["state"] == "succeeded"
    assert len(study["trials"]) == 30
    assert {t["state"] for t in study["trials"]} == {"succeeded"}
    best = study["best"]
    assert best["objective"] <= 0.05
    assert abs(best["params"]["x"] - 3) < 0.25 and abs(best["params"]["y"] + 1) < 0.25
    # The best is the smallest objective any trial reported, and numbers are 0..29.
    assert best["objective"] == min(t["objective"] for t in study["trials"])
    assert sorted(t["number"] for t in study["trials"]) == list(range(30))
    assert "Best trial #" in result.stderr


def test_a_grid_runs_every_point_once_and_ends_well_when_it_runs_out(mlx, tmp_path: Path) -> None:
    """Optuna's GridSampler stops the study after the last point, which its ask-and-tell
    use turns into a RuntimeError (optuna/optuna#5141): the search still succeeds."""
    write(tmp_path / "grid.py", "import sys\nx = int(sys.argv[2])\nprint(f'loss={(x - 2) ** 2}')\n")
    spec = write(
        tmp_path / "grid.yaml",
        "name: grid\ncommand: python grid.py\nmetrics: [{name: loss}]\ntune:\n"
        "  objective: {metric: loss, goal: minimize}\n  algorithm: grid\n  max_trials: 10\n"
        "  parallel_trials: 2\n  parameters:\n    x: {type: int, min: 0, max: 3}\n",
    )
    result = mlx("tune", spec, "--json")
    assert result.exit_code == 0, result.stderr
    study = json.loads(result.stdout)
    assert study["state"] == "succeeded"
    assert sorted(t["params"]["x"] for t in study["trials"]) == [0, 1, 2, 3]
    assert study["best"]["params"] == {"x": 2} and study["best"]["objective"] == 0


def test_trials_run_the_same_argv_and_are_child_jobs(mlx, tmp_path: Path) -> None:
    spec = quadratic_spec(tmp_path, max_trials=3, algorithm="random", seed=1)
    study = json.loads(mlx("tune", spec, "--json").stdout)
    trial = study["trials"][1]
    params = trial["params"]
    log = mlx("logs", study["id"], "--trial", "1").stdout
    assert log == f"loss={(params['x'] - 3) ** 2 + (params['y'] + 1) ** 2}\n"
    status = json.loads(mlx("status", study["id"], "--trial", "1", "--json").stdout)
    assert (status["kind"], status["parent_id"], status["state"]) == (
        "trial",
        study["id"],
        "succeeded",
    )
    plan = json.loads(
        (Path(os.environ["MLX_HOME"]) / "jobs" / trial["id"] / "runtime.json").read_text()
    )
    assert plan["hyperparameters"] == params
    # The tuning job's own log says what the driver did.
    driver_log = mlx("logs", study["id"]).stdout
    assert "[mlx] trial 1 started: x=" in driver_log
    assert "[mlx] tuning succeeded" in driver_log


def test_pull_artifacts_of_the_best_trial(mlx, tmp_path: Path) -> None:
    write(
        tmp_path / "save.py",
        QUADRATIC + "import os\nopen(os.path.join("
        "os.environ['MLX_MODEL_DIR'], 'x.txt'), 'w').write(str(a.x))\n",
    )
    spec = quadratic_spec(tmp_path, max_trials=4, algorithm="random", seed=2)
    spec.write_text(spec.read_text().replace("quad.py", "save.py"))
    study = json.loads(mlx("tune", spec, "--json").stdout)
    dest = tmp_path / "best"
    result = mlx("pull-artifacts", study["id"], "--trial", "best", "--dest", dest)
    assert result.exit_code == 0, result.stderr
    assert float((dest / "model" / "x.txt").read_text()) == study["best"]["params"]["x"]


def test_parallel_trials_overlap(mlx, tmp_path: Path) -> None:
    times = tmp_path / "times.log"
    write(
        tmp_path / "slow.py",
        "import sys, time\n"
        f"open({str(times)!r}, 'a').write(f'start {{time.time()}}\\n')\n"
        "time.sleep(1.0)\nprint('loss=1')\n"
        f"open({str(times)!r}, 'a').write(f'end {{time.time()}}\\n')\n",
    )
    spec = write(
        tmp_path / "par.yaml",
        """\
name: par
command: python slow.py
metrics: [{name: loss}]
tune:
  objective: {metric: loss}
  algorithm: random
  max_trials: 2
  parallel_trials: 2
  parameters:
    a: {type: int, min: 1, max: 5}
""",
    )
    assert mlx("tune", spec).exit_code == 0
    events = [line.split() for line in times.read_text().splitlines()]
    starts = sorted(float(t) for kind, t in events if kind == "start")
    ends = sorted(float(t) for kind, t in events if kind == "end")
    assert len(starts) == len(ends) == 2
    assert starts[1] < ends[0], "the second trial started only after the first ended"


def test_early_stopping_prunes_bad_trials_and_stops_their_processes(mlx, tmp_path: Path) -> None:
    write(
        tmp_path / "curve.py",
        """\
import argparse, time
p = argparse.ArgumentParser(); p.add_argument("--x", type=float); a = p.parse_args()
for step in range(1, 9):
    print(f"step={step} loss={abs(a.x - 3) + 1.0 / step}", flush=True)
    time.sleep(0.1)
print("finished")
""",
    )
    spec = write(
        tmp_path / "prune.yaml",
        """\
name: prune
command: python curve.py
metrics: [{name: loss}]
tune:
  objective: {metric: loss}
  algorithm: random
  max_trials: 10
  early_stopping: true
  seed: 5
  parameters:
    x: {type: float, min: -10, max: 10}
""",
    )
    study = json.loads(mlx("tune", spec, "--json").stdout)
    pruned = [t for t in study["trials"] if t["state"] == "pruned"]
    assert pruned, "no trial was pruned"
    for trial in pruned:
        log = mlx("logs", study["id"], "--trial", str(trial["number"])).stdout
        assert "finished" not in log
        status = json.loads(mlx("status", trial["id"], "--json").stdout)
        assert status["message"].startswith("pruned at step ")
    assert all(t["objective"] is not None for t in study["trials"])


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlx", *args],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_kill_9_mid_study_then_resume_keeps_finished_trials(mlx, tmp_path: Path) -> None:
    write(
        tmp_path / "slow.py",
        QUADRATIC.replace('print(f"loss', 'import time\ntime.sleep(0.5)\nprint(f"loss'),
    )
    spec = quadratic_spec(tmp_path, max_trials=6, algorithm="random", seed=4)
    spec.write_text(spec.read_text().replace("quad.py", "slow.py"))
    started = json.loads(mlx("tune", spec, "--detach", "--json").stdout)
    job_id = started["id"]

    def finished() -> list[dict]:
        trials = json.loads(mlx("status", job_id, "--json").stdout)["trials"]
        done = [t for t in trials if t["state"] == "succeeded"]
        return done if len(done) >= 2 else []

    before = _wait_for(finished)
    pid = int((Path(os.environ["MLX_HOME"]) / "jobs" / job_id / "supervisor.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    dead = _wait_for(
        lambda: json.loads(mlx("status", job_id, "--json").stdout)["state"] == "failed" or None
    )
    assert dead

    resumed = mlx("tune", "--resume", job_id, "--json")
    assert resumed.exit_code == 0, resumed.stderr
    study = json.loads(resumed.stdout)
    assert study["state"] == "succeeded"
    counted = [t for t in study["trials"] if t["state"] == "succeeded"]
    assert len(counted) == 6
    kept = {t["number"]: t["objective"] for t in counted}
    for trial in before:
        assert kept[trial["number"]] == trial["objective"]
    interrupted = [t for t in study["trials"] if t["state"] == "failed"]
    for trial in interrupted:
        status = json.loads(mlx("status", trial["id"], "--json").stdout)
        assert status["message"] == "interrupted: the tuning driver stopped"
    assert len(study["trials"]) == 6 + len(interrupted)


def test_cancel_stops_every_running_trial(mlx, tmp_path: Path) -> None:
    write(tmp_path / "wait.py", "import time\nprint('loss=1', flush=True)\ntime.sleep(120)\n")
    spec = write(
        tmp_path / "wait.yaml",
        """\
name: waiting
command: python wait.py
metrics: [{name: loss}]
tune:
  objective: {metric: loss}
  algorithm: random
  max_trials: 4
  parallel_trials: 2
  parameters:
    a: {type: int, min: 1, max: 5}
""",
    )
    job_id = json.loads(mlx("tune", spec, "--detach", "--json").stdout)["id"]
    _wait_for(
        lambda: (
            len(
                [
                    t
                    for t in json.loads(mlx("status", job_id, "--json").stdout)["trials"]
                    if t["state"] == "running"
                ]
            )
            == 2
        )
    )
    result = mlx("cancel", job_id)
    assert result.exit_code == 0, result.stderr
    study = json.loads(mlx("status", job_id, "--json").stdout)
    assert study["state"] == "cancelled"
    assert [t["state"] for t in study["trials"]] == ["cancelled", "cancelled"]


INVALID = [
    (
        "grid over a float",
        "algorithm: grid",
        "x: {type: float, min: 0, max: 1}",
        "`grid` searches int, choice and discrete parameters only; `x` is a float",
    ),
    (
        "hyperband needs early stopping",
        "algorithm: hyperband",
        "x: {type: int, min: 0, max: 3}",
        "`hyperband` stops trials early: set `early_stopping: true`",
    ),
    (
        "log scale from zero",
        "algorithm: random",
        "x: {type: float, min: 0, max: 1, scale: log}",
        "`tune.parameters.x`: `scale: log` needs `min` > 0",
    ),
    (
        "empty choice",
        "algorithm: random",
        "x: {type: choice, values: []}",
        "`tune.parameters.x`: a choice parameter needs a non-empty `values` list",
    ),
    (
        "unsorted discrete",
        "algorithm: random",
        "x: {type: discrete, values: [3, 1]}",
        "`tune.parameters.x`: `discrete` values must be sorted ascending",
    ),
    (
        "parallel over max",
        "max_trials: 2\n  parallel_trials: 3",
        "x: {type: int, min: 0, max: 3}",
        "`parallel_trials` (3) must not exceed `max_trials` (2)",
    ),
    (
        "min above max",
        "algorithm: random",
        "x: {type: int, min: 5, max: 1}",
        "`tune.parameters.x`: `min` (5) must be less than `max` (1)",
    ),
]


@pytest.mark.parametrize(
    ("case", "setting", "parameter", "message"), INVALID, ids=[c[0] for c in INVALID]
)
def test_invalid_search_space_is_one_clean_error(
    mlx, tmp_path: Path, case: str, setting: str, parameter: str, message: str
) -> None:
    write(tmp_path / "t.py", "print('loss=1')\n")
    spec = write(
        tmp_path / "bad.yaml",
        f"""\
name: bad
command: python t.py
metrics: [{{name: loss}}]
tune:
  objective: {{metric: loss}}
  {setting}
  parameters:
    {parameter}
""",
    )
    result = mlx("tune", spec)
    assert result.exit_code == 1
    assert message in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr
    assert json.loads(mlx("jobs", "--json").stdout) == []  # nothing was started


def test_tune_needs_a_tune_block_and_translate_shows_the_study(mlx, tmp_path: Path) -> None:
    write(tmp_path / "t.py", "print('loss=1')\n")
    plain = write(tmp_path / "plain.yaml", "name: plain\ncommand: python t.py\n")
    result = mlx("tune", plain)
    assert result.exit_code == 1 and "the spec has no `tune:` block" in result.stderr
    translated = json.loads(mlx("translate", quadratic_spec(tmp_path), "--tune", "--json").stdout)
    assert translated["kind"] == "tuning"
    study = translated["request"]["study"]
    assert (study["sampler"], study["max_trials"], study["direction"], study["metric"]) == (
        "GPSampler(expected improvement)",
        30,
        "minimize",
        "loss",
    )
    assert study["parameters"]["x"] == {
        "type": "float",
        "min": -10.0,
        "max": 10.0,
        "scale": "linear",
    }
    assert json.loads(mlx("jobs", "--json").stdout) == []


def test_human_output_is_the_trial_table_and_the_best_trial(mlx, tmp_path: Path) -> None:
    spec = quadratic_spec(tmp_path, max_trials=3, algorithm="random", seed=1)
    result = mlx("tune", spec)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert " · succeeded · 3/3 done · best " in lines[0]
    assert lines[1].split() == ["#", "state", "loss", "time", "parameters"]
    assert [line.split()[0] for line in lines[2:]] == ["0", "1", "2"]
    assert all("succeeded" in line for line in lines[2:])
    assert result.stdout.endswith("\n")
    best = json.loads(mlx("status", lines[0].split()[0], "--json").stdout)["best"]
    assert f"Best trial #{best['number']}: loss={best['objective']:.6g}" in result.stderr


def test_tune_without_optuna_says_what_to_install_and_lists_nothing(
    mlx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a)
    )
    result = mlx("tune", quadratic_spec(tmp_path), "--detach")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: local tuning needs optuna, which is not installed\n"
        "Hint: pip install 'mlx-jobs[tune]'\n"
    )
    assert json.loads(mlx("jobs", "--json").stdout) == []
