"""Metrics from every channel a script reports through (issue #14, items 1 and 2), on local:
stdout and stderr lines, the cloudml-hypertune file and MLflow, with a warning for a metric
that never appeared and a trial without its objective shown failed, with the reason."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlx.runtime import bootstrap
from mlx.runtime.hypertune import HypertuneFile
from mlx.runtime.mlflow_store import MlflowStore, tracking_uri
from tests.backends.contract import started
from tests.conftest import write
from tests.fixtures.reporting import CHANNELS, final_loss, reporting_spec


def job_dir(job: str) -> Path:
    return Path(os.environ["MLX_HOME"]) / "jobs" / job


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_trains_and_reports_its_metric(mlx: Any, tmp_path: Path, channel: str) -> None:
    result = mlx("train", reporting_spec(tmp_path, channel), "--json")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["metrics"] == {"val_loss": pytest.approx(final_loss(0.1), rel=1e-12)}
    assert "Metrics: val_loss=0.0049" in result.stderr
    assert "never appeared" not in result.stderr
    status = mlx("status", record["id"])  # shown as any stdout metric is
    assert "metric val_loss  0.0049" in status.stdout
    # The script's own store and file are in the job's folder, not beside the code.
    assert sorted(p.name for p in (tmp_path / "project" / "code").iterdir()) == ["train.py"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_tunes_to_a_best_trial_with_parallel_trials_apart(
    mlx: Any, tmp_path: Path, channel: str
) -> None:
    """Two trials at once, each reporting through the same channel while the other does:
    each trial's objective is its own last report (a shared store or file would hand one
    trial the other's value)."""
    spec = reporting_spec(tmp_path, channel, hyperparameters={"lr": 0.1, "pause": 0.4})
    result = mlx("tune", spec, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    trials = summary["trials"]
    assert [t["state"] for t in trials] == ["succeeded", "succeeded"]
    for trial in trials:
        assert trial["objective"] == pytest.approx(final_loss(trial["params"]["lr"]), rel=1e-12)
    best = min(trials, key=lambda t: t["objective"])
    assert summary["best"]["number"] == best["number"]
    assert "no trial succeeded" not in result.stderr
    if channel != "logging":  # each trial its own hypertune file, its own MLflow store
        name = "mlflow.db" if channel == "mlflow" else "hypertune.metrics"
        assert all((job_dir(t["id"]) / name).is_file() for t in trials)


def test_a_declared_metric_that_never_appears_is_a_warning_naming_the_channels(
    mlx: Any, tmp_path: Path
) -> None:
    metrics = [{"name": "val_loss"}, {"name": "accuracy"}]
    result = mlx("train", reporting_spec(tmp_path, "hypertune", metrics=metrics))
    assert result.exit_code == 0, result.stderr
    folder = job_dir(started(result.stderr))
    warning = (
        f"[mlx] metric accuracy never appeared; looked at: stdout; stderr; the "
        f"cloudml-hypertune file {folder}/hypertune.metrics; MLflow "
        f"(sqlite:///{folder}/mlflow.db)"
    )
    assert warning in result.stdout  # `mlx train` follows the job's log
    assert warning in mlx("logs", folder.name).stdout
    assert "metric val_loss never appeared" not in result.stdout


def test_a_user_tracking_uri_is_left_alone_and_named_in_the_warning(
    mlx: Any, tmp_path: Path
) -> None:
    spec = reporting_spec(tmp_path, "logging", env={"MLFLOW_TRACKING_URI": "http://mlflow.test"})
    write(spec, spec.read_text().replace("val_loss", "val_los"))  # never matches now
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stderr
    assert "MLflow at http://mlflow.test is not read back" in result.stdout


def test_trials_without_the_objective_fail_with_the_reason(mlx: Any, tmp_path: Path) -> None:
    """Trials that run to the end but never report the objective: failed, saying why, in
    the table, --json and --trial best; the job does not claim no trial succeeded."""
    spec = reporting_spec(tmp_path, "logging")
    write(spec, spec.read_text().replace("name: val_loss", "name: loss"))
    write(spec, spec.read_text().replace("metric: val_loss", "metric: loss"))
    result = mlx("tune", spec, "--json")
    assert result.exit_code == 1
    reason = "never reported loss (on stdout, stderr, the cloudml-hypertune file or MLflow)"
    summary = json.loads(result.stdout)
    assert [(t["state"], t["message"]) for t in summary["trials"]] == [("failed", reason)] * 2
    assert f"Trials 0, 1 failed: {reason}" in result.stderr
    assert "no trial reported loss (2 trials ran to the end without it)" in result.stderr
    assert "no trial succeeded" not in result.stderr
    status = mlx("status", summary["id"])
    assert f"Trials 0, 1 failed: {reason}" in status.stdout
    best = mlx("logs", summary["id"], "--trial", "best")
    assert best.exit_code == 1
    assert f"Hint: 2 trial(s) ended without loss: {reason}" in best.stderr


def _config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": "j-1",
        "model_dir": str(tmp_path / "model"),
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "output_dir": str(tmp_path / "out"),
        "metrics_file": str(tmp_path / "metrics.jsonl"),
        "channels_dir": str(tmp_path),
        "metrics": [
            {"name": "loss", "regex": r"loss=([0-9.]+)"},
            {"name": "acc", "regex": r"acc=([0-9.]+)"},
        ],
        **extra,
    }


def test_stderr_passes_through_to_stderr_unmixed_and_counts(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    script = (
        "import sys\n"
        "print('out loss=0.5', flush=True)\n"
        "sys.stderr.write('err acc=0.75\\npartial')\n"
    )
    code = bootstrap.run(_config(tmp_path), [sys.executable, "-c", script], {})
    assert code == 0
    out, err = capfd.readouterr()
    assert out == "out loss=0.5\n"
    assert err == "err acc=0.75\npartial"
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    found = [(m["name"], m["value"], m["channel"]) for m in map(json.loads, lines)]
    # Two pipes read by two threads: which line is recorded first is not fixed.
    assert sorted(found) == [("acc", 0.75, "stderr"), ("loss", 0.5, "stdout")]


def test_a_metric_from_a_file_becomes_a_line_sagemakers_regex_matches(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """``metric_lines`` (SageMaker): values reported through hypertune are printed as a
    line the spec's regex matches; values from the log are not printed twice."""
    script = (
        "import hypertune\n"
        "hypertune.HyperTune().report_hyperparameter_tuning_metric('acc', 0.25)\n"
        "print('loss=0.5')\n"
    )
    config = _config(tmp_path, metric_lines=True)
    assert bootstrap.run(config, [sys.executable, "-c", script], {}) == 0
    out = capfd.readouterr().out
    assert out.splitlines() == ["loss=0.5", "[mlx] acc=0.25"]


def test_mlflow_last_logged_value_wins_not_the_highest_step(tmp_path: Path) -> None:
    """MLflow's ``latest_metrics`` keeps the value of the highest step; a job's value is
    its last report, so the store is read in the order values were logged."""
    script = (
        "import mlflow\n"
        "mlflow.log_metric('loss', 0.1, step=5)\n"
        "mlflow.log_metric('loss', 0.7, step=1)\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri(str(tmp_path / "mlflow.db"))}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)
    store = MlflowStore(str(tmp_path / "mlflow.db"), ["loss"])
    found = [(m.value, m.step, m.channel) for m in store.read()]
    assert found == [(0.1, 5, "mlflow"), (0.7, 1, "mlflow")]
    assert store.read() == []  # read once
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        latest = connection.execute("SELECT value FROM latest_metrics").fetchall()
    assert latest == [(0.1,)]  # what a reader of latest_metrics would have taken


def test_the_hypertune_reader_skips_a_half_written_file_and_reads_new_reports(
    tmp_path: Path,
) -> None:
    path = tmp_path / "output.metrics"
    reader = HypertuneFile(str(path), ["loss"])
    assert reader.read() == []  # no file yet
    first = {"timestamp": 1.0, "trial": "0", "loss": "0.5", "global_step": "1"}
    path.write_text(json.dumps(first) + "\n" + '{"timestamp": 2.0, "tri')
    assert [(m.value, m.step, m.time) for m in reader.read()] == [(0.5, 1, 1.0)]
    second = {"timestamp": 2.0, "trial": "0", "loss": "0.25", "global_step": "0"}
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    assert [(m.value, m.step) for m in reader.read()] == [(0.25, None)]
    assert reader.read(force=True) == []  # nothing new
