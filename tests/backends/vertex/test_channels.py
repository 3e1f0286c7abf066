"""A script that reports through MLflow, unchanged, tuned on the emulated Vertex AI (the
trials run for real, through mlx's Vertex runner): Vertex's tuner reads the objective from
the hypertune file only, so the bootstrap writes there each value it read from the trial's
own MLflow store (issue #14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.backends.vertex.conftest import IMAGE, SETTINGS, Gcp
from tests.emulators.vertex_runs import VertexRuns
from tests.fixtures.reporting import final_loss, reporting_spec

FIELDS = {"provider": "vertex", "image": IMAGE, "vertex": dict(SETTINGS)}


def test_mlflow_metrics_reach_vertex_in_training_and_tuning(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    spec = reporting_spec(tmp_path, "mlflow", **FIELDS)
    trained = mlx("train", spec, "--json")
    assert trained.exit_code == 0, trained.stderr
    record = json.loads(trained.stdout)
    assert record["metrics"] == {"val_loss": pytest.approx(final_loss(0.1), rel=1e-12)}
    tuned = mlx("tune", spec, "--json")
    assert tuned.exit_code == 0, tuned.stderr
    trials = json.loads(tuned.stdout)["trials"]
    assert [t["state"] for t in trials] == ["succeeded", "succeeded"]
    for trial in trials:  # the study's finalMeasurement, from the hypertune file
        assert trial["objective"] == pytest.approx(final_loss(trial["params"]["lr"]), rel=1e-12)
