"""`compat: sagemaker` on Vertex AI: MantisAI's SageMaker entry point, unchanged, run by the
test servers through Vertex's platform runner (sandbox runtime), finds /opt/ml as SageMaker
lays it out, and its model lands in the job's outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.backends.contract import started
from tests.backends.vertex.conftest import IMAGE, SETTINGS, Gcp
from tests.emulators.vertex_runs import VertexRuns
from tests.fixtures import mantisai


def test_mantisai_entrypoint_runs_unchanged_on_vertex(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    spec = mantisai.project(
        tmp_path, provider="vertex", image=IMAGE, vertex=dict(SETTINGS), compat="sagemaker"
    )
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stdout + result.stderr
    job = started(result.stderr)
    assert mantisai.PRINTED in mlx("logs", job).stdout
    mantisai.assert_trained(mantisai.pulled_model(mlx, job, tmp_path / "pulled"))
    # The script's argv had no hyperparameters: a BYO container reads the file only.
    _, created = gcp.wait_for_job()
    args = list(created.job_spec.worker_pool_specs[0].container_spec.args)
    assert args[-2:] == ["python", mantisai.SCRIPT]
