"""A script that reports through MLflow, unchanged, on the emulated SageMaker (the job runs
for real, through mlx's SageMaker runner): SageMaker reads metrics only from the log with
the MetricDefinitions regexes, so the bootstrap prints each value it read from the job's
MLflow store as a line those regexes match (issue #14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.backends.sagemaker.conftest import FRAMEWORK_IMAGE, SETTINGS
from tests.emulators.aws import AwsServer
from tests.fixtures.reporting import final_loss, reporting_spec

# AWS's image: `mlx tune` hands the search to SageMaker's tuner, which reads the log.
FIELDS = {"provider": "sagemaker", "image": FRAMEWORK_IMAGE, "sagemaker": dict(SETTINGS)}


def test_mlflow_metrics_reach_sagemaker_in_training_and_tuning(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.execute_jobs()
    spec = reporting_spec(tmp_path, "mlflow", **FIELDS)
    trained = mlx("train", spec, "--json")
    assert trained.exit_code == 0, trained.stderr
    record = json.loads(trained.stdout)
    assert record["metrics"] == {"val_loss": pytest.approx(final_loss(0.1), rel=1e-12)}
    assert f"[mlx] val_loss={final_loss(0.1)!r}" in mlx("logs", record["id"]).stdout
    tuned = mlx("tune", spec, "--json")
    assert tuned.exit_code == 0, tuned.stderr
    trials = json.loads(tuned.stdout)["trials"]
    assert [t["state"] for t in trials] == ["succeeded", "succeeded"]
    for trial in trials:  # SageMaker's own objective, from the log
        assert trial["objective"] == pytest.approx(final_loss(trial["params"]["lr"]), rel=1e-9)
