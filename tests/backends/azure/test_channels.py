"""A script that reports through cloudml-hypertune, unchanged, swept on the emulated Azure
ML (the trials run for real, through mlx's Azure ML runner, with a Python that has mlflow
but not Azure's azureml-mlflow plugin): the sweep reads its primary metric from MLflow, so
the bootstrap logs each value it read from the trial's hypertune file through MLflow's REST
API, with the job's token (issue #14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.fixtures.reporting import final_loss, reporting_spec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIELDS = {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)}


def test_hypertune_metrics_reach_the_sweep_through_mlflow(
    mlx: Any, azure: Azure, tmp_path: Path
) -> None:
    runs = azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")
    tuned = mlx("tune", reporting_spec(tmp_path, "hypertune", **FIELDS), "--json")
    assert tuned.exit_code == 0, tuned.stderr
    trials = json.loads(tuned.stdout)["trials"]
    assert [t["state"] for t in trials] == ["succeeded", "succeeded"]
    (received,) = runs.objectives.values()  # what the sweep read from each trial's MLflow
    expected = sorted(final_loss(t["params"]["lr"]) for t in trials)
    assert sorted(v for v in received.values() if v is not None) == pytest.approx(expected)
    for trial in trials:
        assert trial["objective"] == pytest.approx(final_loss(trial["params"]["lr"]))


# azureml-mlflow's part, which this machine's Python lacks: the job's token on every call.
TOKEN_AS_AZUREML_MLFLOW_SENDS_IT = (
    'import os\nos.environ["MLFLOW_TRACKING_TOKEN"] = os.environ["AZUREML_RUN_TOKEN"]\n'
)


def test_a_script_logging_to_azures_own_mlflow_is_read_back_not_warned_about(
    mlx: Any, azure: Azure, tmp_path: Path
) -> None:
    """On Azure ML the script's own ``mlflow.log_metric`` goes to the job's run (Azure's
    tracking stays in place): the bootstrap reads the run back at the end, so a metric the
    script logged there is no "never appeared" warning, and one it did not log is."""
    azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")
    metrics = [{"name": "val_loss"}, {"name": "accuracy"}]
    spec = reporting_spec(tmp_path, "mlflow", metrics=metrics, **FIELDS)
    script = tmp_path / "project" / "code" / "train.py"
    script.write_text(TOKEN_AS_AZUREML_MLFLOW_SENDS_IT + script.read_text())
    trained = mlx("train", spec)
    assert trained.exit_code == 0, trained.stderr
    assert "metric val_loss never appeared" not in trained.stdout
    assert "[mlx] metric accuracy never appeared; looked at: stdout; stderr; the " in trained.stdout
    assert "; MLflow run " in trained.stdout and "(Azure ML's tracking)" in trained.stdout
