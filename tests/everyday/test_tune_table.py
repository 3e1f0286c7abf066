"""The live trial table at 80 columns (issue #17, item 5): one line per trial with five
parameters, running trials kept in view when trials outnumber the terminal's lines, the
latest metric of a running trial, and an "n/N done · best · elapsed" line."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from tests.conftest import write

FIVE = """\
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--learning-rate", type=float)
p.add_argument("--layers-count", type=int)
p.add_argument("--hidden-size", type=int)
p.add_argument("--batch-size", type=int)
p.add_argument("--optimizer")
a = p.parse_args()
print(f"val_loss={a.learning_rate * 100 + 0.25:.4f}", flush=True)
while os.environ.get("HOLD") and not os.path.exists(os.environ["HOLD"]):
    time.sleep(0.05)
print(f"val_loss={a.learning_rate * 100:.4f}", flush=True)
"""


def five_parameter_spec(root: Path, trials: int, parallel: int, hold: str = "") -> Path:
    write(root / "train.py", FIVE)
    env = f"env: {{HOLD: {hold}}}\n" if hold else ""
    return write(
        root / "tune.yaml",
        f"""\
name: five
command: python train.py
{env}metrics: [{{name: val_loss}}]
tune:
  objective: {{metric: val_loss, goal: minimize}}
  algorithm: random
  max_trials: {trials}
  parallel_trials: {parallel}
  parameters:
    learning-rate: {{type: float, min: 1.0e-5, max: 1.0e-2, scale: log}}
    layers-count:  {{type: int, min: 1, max: 4}}
    hidden-size:   {{type: int, min: 16, max: 1024, scale: log}}
    batch-size:    {{type: discrete, values: [32, 64, 128]}}
    optimizer:     {{type: choice, values: [sgd, adam]}}
""",
    )


def test_five_parameters_fit_80_columns_one_line_per_trial(mlx: Any, tmp_path: Path) -> None:
    result = mlx("tune", five_parameter_spec(tmp_path, trials=4, parallel=2))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.rstrip("\n").splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert re.fullmatch(
        r"five-\w+ · succeeded · 4/4 done · best [0-9.]+ \(trial \d\) · elapsed [0-9.]+s",
        lines[0].rstrip(),
    ), lines[0]
    assert lines[1].split() == ["#", "state", "val_loss", "time", "parameters"]
    rows = [line for line in lines if re.match(r"\s*\d+\s+succeeded", line)]
    assert len(rows) == 4  # no trial wraps onto a second line
    assert re.search(r"lr=[0-9.e-]+ lc=\d hs=\d+ bs=\d+ opt=(sgd|adam)\s*$", rows[0])
    assert (
        lines[-1]
        == "lr learning-rate, lc layers-count, hs hidden-size, bs batch-size, opt optimizer"
    )


def test_a_running_trial_shows_its_latest_metric(mlx: Any, tmp_path: Path) -> None:
    hold = tmp_path / "release"
    spec = five_parameter_spec(tmp_path, trials=1, parallel=1, hold=str(hold))
    started = mlx("tune", spec, "--detach", "--json")
    assert started.exit_code == 0, started.stderr
    job = json.loads(started.stdout)["id"]
    try:
        deadline = time.monotonic() + 60
        while True:  # until the trial printed its first value
            table = mlx("status", job).stdout
            row = next((line for line in table.splitlines() if line.startswith("0 ")), "")
            if ("running" in row and "-" not in row.split()[2]) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        cells = row.split()
        assert cells[:2] == ["0", "running"], table
        params = json.loads(mlx("status", job, "--json").stdout)["trials"][0]["params"]
        assert float(cells[2]) == round(params["learning-rate"] * 100 + 0.25, 4)
        assert table.splitlines()[0].startswith(f"{job} · running · 0/1 done · elapsed ")
    finally:
        hold.touch()
    assert mlx("tune", "--resume", job).exit_code == 0


def test_running_trials_stay_in_view_when_trials_outnumber_the_lines(
    mlx: Any, tmp_path: Path
) -> None:
    from mlx.model import JobKind, JobRecord, JobState
    from mlx.store import Store
    from mlx.tuning import view

    store = Store.default()
    now = time.time()
    tune = {"objective": {"metric": "loss", "goal": "minimize"}, "max_trials": 40}
    parent = JobRecord(
        id="big-tune", provider="local", name="big", kind=JobKind.TUNING,
        state=JobState.RUNNING, spec={"tune": tune}, created_at=now - 192, updated_at=now,
        info={"best_trial": 4, "best_objective": 0.01, "best_params": {}},
    )  # fmt: skip
    store.insert(parent)
    params = {f"parameter-{i}": 0.5 for i in range(5)}
    running = {5, 17, 33}
    for n in range(34):
        state = JobState.RUNNING if n in running else JobState.SUCCEEDED
        store.insert(
            JobRecord(
                id=f"big-tune-t{n}", provider="local", name="big", kind=JobKind.TRIAL,
                parent_id="big-tune", state=state, spec={}, created_at=now - 100 + n,
                updated_at=now, ended_at=None if n in running else now - 50 + n,
                info={"trial": n, "params": params, "objective": 0.01 if n == 4 else 1.0 + n},
            )
        )  # fmt: skip
    console = Console(width=80, height=30, record=True, force_terminal=False)
    console.print(view.table(store, store.get("big-tune"), height=30, width=80))
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) <= 29  # and the cursor's line: Live shows all of it in 30 rows
    assert max(len(line) for line in lines) <= 80
    assert lines[0] == "big-tune · running · 31/40 done · best 0.01 (trial 4) · elapsed 3m 12s"
    shown = [int(line.split()[0]) for line in lines[2:] if re.match(r"\s*\d+\s", line)]
    assert running | {4, 33} <= set(shown)  # the running, the best, the latest
    assert shown == sorted(shown)
    assert f"… {34 - len(shown)} more trial(s): `mlx status big-tune` lists all" in lines
