"""The platforms' tuning-job quotas, checked before anything is uploaded or created: a
search no tuning job of the platform runs is refused in one line naming the field, the
number asked, the limit and the fix; one that only a raised (per-account) quota allows is
warned about. mlx's own engine is bound by neither: its trials are training jobs.
Offline: `translate` calls no cloud and submits check the same request."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from tests.tuning.test_engine_choice import TUNE, project

MLX_FIX = (
    "set `tune.engine: mlx` (each trial a training job, within your account's training quotas)"
)


def translate(
    mlx: Any, tmp_path: Path, provider: str, engine: Optional[str] = None, **tune: Any
) -> tuple[int, str]:
    """Exit code, and stderr as one line."""
    named = {"engine": engine} if engine else {}
    spec = project(tmp_path, provider, tune={**TUNE, **named, **tune})
    result = mlx("translate", spec, "--tune", "--json")
    assert "Traceback" not in result.stderr
    return result.exit_code, " ".join(result.stderr.split())


# --- SageMaker: "Resource Limits for Automatic Model Tuning" ----------------------------


def test_sagemaker_runs_at_most_100_trials_at_once(mlx: Any, tmp_path: Path) -> None:
    code, said = translate(mlx, tmp_path, "sagemaker", max_trials=200, parallel_trials=101)
    assert code == 1
    assert (
        "Error: `tune.parallel_trials` is 101, but a SageMaker tuning job runs at most 100 "
        f"training jobs at once: lower it, or {MLX_FIX}"
    ) in said


def test_more_than_10_trials_at_once_needs_a_raised_quota(mlx: Any, tmp_path: Path) -> None:
    code, said = translate(mlx, tmp_path, "sagemaker", max_trials=40, parallel_trials=20)
    assert code == 0, said
    assert (
        "Warning: `tune.parallel_trials` is 20, above SageMaker's default quota of 10 "
        "parallel training jobs per tuning job (an account can raise it to 100): unless yours "
        f"was raised SageMaker refuses the job; lower it to 10, or {MLX_FIX}"
    ) in said


def test_at_most_10_trials_at_once_is_not_mentioned(mlx: Any, tmp_path: Path) -> None:
    code, said = translate(mlx, tmp_path, "sagemaker", max_trials=40, parallel_trials=10)
    assert code == 0, said
    assert "Warning" not in said


@pytest.mark.parametrize("algorithm", ["bayesian", "hyperband"])
def test_sagemaker_runs_at_most_750_trials_but_for_random_search(
    mlx: Any, tmp_path: Path, algorithm: str
) -> None:
    extra: dict[str, Any] = {"max_resource": 10} if algorithm == "hyperband" else {}
    code, said = translate(mlx, tmp_path, "sagemaker", algorithm=algorithm, max_trials=751, **extra)
    assert code == 1
    assert (
        f"Error: `tune.max_trials` is 751, but a SageMaker tuning job with {algorithm} search "
        f"runs at most 750 training jobs: lower it, or {MLX_FIX}"
    ) in said


def test_random_search_past_750_trials_needs_a_raised_quota(mlx: Any, tmp_path: Path) -> None:
    code, said = translate(mlx, tmp_path, "sagemaker", algorithm="random", max_trials=751)
    assert code == 0, said
    assert (
        "Warning: `tune.max_trials` is 751, above SageMaker's default quota of 750 training "
        "jobs per tuning job (an account can raise it to 10000 for random search): unless "
        f"yours was raised SageMaker refuses the job; lower it, or {MLX_FIX}"
    ) in said


def test_a_grid_counts_its_combinations(mlx: Any, tmp_path: Path) -> None:
    # 30 x 26 = 780 combinations: SageMaker runs them all, whatever max_trials says.
    parameters = {
        "a": {"type": "int", "min": 1, "max": 30},
        "b": {"type": "choice", "values": [chr(ord("a") + i) for i in range(26)]},
    }
    code, said = translate(mlx, tmp_path, "sagemaker", algorithm="grid", parameters=parameters)
    assert code == 1
    assert (
        "Error: `tune.parameters` make a grid of 780 combinations, but a SageMaker tuning job "
        f"with grid search runs at most 750 training jobs: lower it, or {MLX_FIX}"
    ) in said


def test_mlxs_engine_is_not_bound_by_sagemakers_tuning_quotas(mlx: Any, tmp_path: Path) -> None:
    code, said = translate(mlx, tmp_path, "sagemaker", "mlx", max_trials=1000, parallel_trials=150)
    assert code == 0, said
    assert "Warning" not in said


# --- Azure ML: "Set limits" of a sweep job ------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "most"), [("max_trials", 1001, 1000), ("parallel_trials", 101, 100)]
)
def test_azure_sweep_limits_name_mlxs_engine_as_the_way_out(
    mlx: Any, tmp_path: Path, field: str, value: int, most: int
) -> None:
    tune: dict[str, Any] = {"max_trials": 500, field: value}
    code, said = translate(mlx, tmp_path, "azure", **tune)
    assert code == 1
    assert f"Error: `tune.{field}`: an Azure ML sweep allows at most {most} (got {value})" in said
    assert (
        f"Hint: Set tune.{field} to {most} or less for Azure ML, or set `tune.engine: mlx` "
        "(each trial a command job, within your compute cluster's nodes and quotas)."
    ) in said
    code, said = translate(mlx, tmp_path, "azure", "mlx", **tune)
    assert code == 0, said


# --- Vertex AI: no documented cap on a tuning job's trials ---------------------------------


@pytest.mark.parametrize("engine", ["native", "mlx"])
def test_vertex_leaves_parallel_trials_to_the_projects_quotas(
    mlx: Any, tmp_path: Path, engine: str
) -> None:
    # Vertex documents no limit of parallelTrialCount: trials use the project's custom
    # training quotas, which only the project knows (README, tuning engines).
    code, said = translate(mlx, tmp_path, "vertex", engine, max_trials=1000, parallel_trials=200)
    assert code == 0, said
    assert "Warning" not in said
