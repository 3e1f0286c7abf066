"""`compat: sagemaker` on Azure ML: MantisAI's SageMaker entry point, unchanged, run by the
test server through Azure ML's platform runner (sandbox runtime), finds /opt/ml as SageMaker
lays it out, and its model lands in the job's outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.backends.contract import started
from tests.fixtures import mantisai

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_mantisai_entrypoint_runs_unchanged_on_azure(
    azure: Azure, mlx: Any, tmp_path: Path
) -> None:
    azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")
    # A datastore folder (the test server's SDK cannot upload a local input file).
    data = (mantisai.FIXTURE / "data" / "movie.csv").read_bytes()
    azure.blobs().upload_blob("data/movie.csv", data)
    spec = mantisai.project(
        tmp_path,
        provider="azure",
        image=IMAGE,
        azure=dict(SETTINGS),
        compat="sagemaker",
        inputs={"train": "azureml://datastores/workspaceblobstore/paths/data/"},
    )
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stdout + result.stderr
    job = started(result.stderr)
    assert mantisai.PRINTED in mlx("logs", job).stdout
    mantisai.assert_trained(mantisai.pulled_model(mlx, job, tmp_path / "pulled"))
