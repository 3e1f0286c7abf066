"""The engine's parts that need no cloud: where a search with ``tune.engine: mlx`` runs,
how its trials are shown to their cloud's backend, and what its driver inherits. The
scenarios on the three emulated clouds are ``engine_scenarios.py`` (run from
``tests/backends/<provider>/test_engine_mlx.py``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlx.model import JobKind, JobRecord, JobState
from mlx.tuning.engine_backend import as_training, driver_environment
from tests.conftest import write


def test_engine_mlx_on_local_is_local_tuning(mlx, tmp_path: Path) -> None:
    write(tmp_path / "q.py", "import sys\nx = float(sys.argv[2])\nprint(f'loss={(x - 1) ** 2}')\n")
    spec = write(
        tmp_path / "q.yaml",
        "name: q\ncommand: python q.py\nmetrics: [{name: loss}]\ntune:\n  engine: mlx\n"
        "  objective: {metric: loss, goal: minimize}\n  algorithm: random\n  seed: 1\n"
        "  max_trials: 2\n  parameters:\n    x: {type: float, min: 0, max: 2}\n",
    )
    result = mlx("tune", spec, "--json")
    assert result.exit_code == 0, result.stderr
    study = json.loads(result.stdout)
    assert (study["provider"], study["state"]) == ("local", "succeeded")
    status = json.loads(mlx("status", study["trials"][0]["id"], "--json").stdout)
    assert status["provider"] == "local"
    assert (Path(os.environ["MLX_HOME"]) / "jobs" / study["id"] / "study.journal").exists()


def test_a_trial_is_shown_to_its_cloud_as_the_training_job_it_is() -> None:
    trial = JobRecord(
        id="t-abc123-t4",
        provider="sagemaker",
        name="t",
        state=JobState.RUNNING,
        spec={},
        created_at=0.0,
        updated_at=0.0,
        kind=JobKind.TRIAL,
        parent_id="t-abc123",
        native_id="t-abc123-t4",
        location={"engine": "mlx", "region": "us-east-1", "bucket": "b", "prefix": "mlx"},
    )
    seen = as_training(trial)
    assert (seen.kind, seen.engine, seen.id, seen.native_id) == (
        JobKind.TRAINING,
        None,
        trial.id,
        trial.native_id,
    )
    assert seen.location == {"region": "us-east-1", "bucket": "b", "prefix": "mlx"}
    assert trial.engine == "mlx" and trial.is_trial  # the stored record is unchanged


def test_the_driver_does_not_inherit_a_custom_cloud_name_the_sdk_wrote() -> None:
    custom = {"MLX_AZURE_CLOUD": "private", "AZUREML_CURRENT_CLOUD": "private", "A": "1"}
    assert driver_environment(dict(custom)) == {"MLX_AZURE_CLOUD": "private", "A": "1"}
    own = {"AZUREML_CURRENT_CLOUD": "AzureChinaCloud"}  # the user's own setting stays
    assert driver_environment(dict(own)) == own
