"""Which engine runs a search, as `mlx translate --tune` and `mlx tune --dry-run` show it:
the platform's own tuner (`native`) or mlx's (`mlx`: each trial a training job, its
request printed as the template every trial sends). Offline: translate calls no cloud."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from tests.backends.sagemaker.conftest import FRAMEWORK_IMAGE
from tests.conftest import write

# The images each cloud's own tests use; on SageMaker one of AWS's framework images (the
# training toolkit inside), so every cloud's default is its own tuner.
IMAGES = {
    "sagemaker": FRAMEWORK_IMAGE,
    "vertex": "us-docker.pkg.dev/test-project/train/trainer:1",
    "azure": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
}
SETTINGS = {
    "sagemaker": {
        "role": "arn:aws:iam::123456789012:role/SageMakerRole",
        "bucket": "mlx-test-bucket",
        "region": "us-east-1",
    },
    "vertex": {"project": "test-project", "location": "us-central1", "bucket": "gs://mlx-test"},
    "azure": {
        "subscription_id": "00000000-0000-0000-0000-000000000000",
        "resource_group": "rg",
        "workspace": "ws",
        "compute": "cpu-cluster",
    },
}
TUNE = {
    "objective": {"metric": "loss", "goal": "minimize"},
    "max_trials": 6,
    "parallel_trials": 2,
    "early_stopping": True,
    "seed": 3,
    "parameters": {
        "lr": {"type": "float", "min": 0.001, "max": 0.1, "scale": "log"},
        "optimizer": {"type": "choice", "values": ["sgd", "adam"]},
    },
}
CLOUDS = ["sagemaker", "vertex", "azure"]
NATIVE_KEYS = {
    "sagemaker": {"HyperParameterTuningJobName", "HyperParameterTuningJobConfig"},
    "vertex": {"parent", "hyperparameterTuningJob"},
    "azure": {"type", "sampling_algorithm", "search_space"},
}


def project(tmp_path: Path, provider: str, engine: Optional[str] = None, **fields: Any) -> Path:
    write(tmp_path / "project" / "code" / "train.py", "print('loss=0.5')\n")
    tune = {**TUNE, **({"engine": engine} if engine else {})}
    doc = {
        "name": "eng",
        "provider": provider,
        **({"image": IMAGES[provider]} if provider in IMAGES else {}),
        "command": "python train.py",
        "code": "./code",
        "hyperparameters": {"lr": 0.01, "epochs": 3},
        "metrics": [{"name": "loss"}],
        "tune": tune,
        **{name: dict(settings) for name, settings in SETTINGS.items()},
        **fields,
    }
    return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def translated(mlx: Any, spec: Path, *args: str) -> dict[str, Any]:
    result = mlx("translate", spec, "--json", *args)
    assert result.exit_code == 0, result.stderr
    assert "Note: " not in result.stderr  # these specs leave nothing to explain
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def same_job(document: Any) -> str:
    """``document`` as JSON text with every job id (``eng-<6 characters>``, a trial's with
    its ``-t<N>``) written ``JOB``: two translations differ in their random ids only."""
    text = json.dumps(document, sort_keys=True)
    return re.sub(r"eng\\*-[a-z0-9]{6}(\\*-t\d+)?", "JOB", text)  # also regex-escaped


@pytest.mark.parametrize("engine", [None, "native", "mlx"])
def test_local_tuning_is_the_local_tuner_whichever_engine_is_named(
    mlx: Any, tmp_path: Path, engine: Optional[str]
) -> None:
    found = translated(mlx, project(tmp_path, "local", engine), "--tune")
    assert (found["provider"], found["kind"], found["engine"]) == (
        "local",
        "tuning",
        engine or "native",
    )
    assert set(found["request"]) == {"study", "job_dir", "trial"}
    assert found["request"]["study"]["sampler"] == "GPSampler(expected improvement)"


@pytest.mark.parametrize("provider", CLOUDS)
def test_each_cloud_defaults_to_its_own_tuner_and_says_so(
    mlx: Any, tmp_path: Path, provider: str
) -> None:
    found = translated(mlx, project(tmp_path, provider), "--tune")
    assert (found["provider"], found["kind"], found["engine"]) == (provider, "tuning", "native")
    assert NATIVE_KEYS[provider] <= set(found["request"])
    # `engine: native` said out loud: the same request.
    named = translated(mlx, project(tmp_path, provider, "native"), "--tune")
    assert same_job(named) == same_job(found)


@pytest.mark.parametrize("provider", CLOUDS)
def test_engine_mlx_prints_the_search_and_the_request_of_a_trial(
    mlx: Any, tmp_path: Path, provider: str
) -> None:
    found = translated(mlx, project(tmp_path, provider, "mlx"), "--tune")
    assert (found["provider"], found["kind"], found["engine"]) == (provider, "tuning", "mlx")
    request = found["request"]
    assert set(request) == {"engine", "study", "job_dir", "trial"}
    assert request["study"] == {
        "algorithm": "bayesian",
        "sampler": "GPSampler(expected improvement)",
        "pruner": "MedianPruner",
        "direction": "minimize",
        "metric": "loss",
        "max_trials": 6,
        "parallel_trials": 2,
        "seed": 3,
        "parameters": {
            "lr": {"type": "float", "min": 0.001, "max": 0.1, "scale": "log"},
            "optimizer": {"type": "choice", "scale": "linear", "values": ["sgd", "adam"]},
        },
    }
    assert re.fullmatch(r".*/mlx-home/jobs/eng-[a-z0-9]{6}", request["job_dir"])
    # The trial: exactly the training job `mlx train` would send, each tuned value in its
    # hyperparameter's place as `<name>`.
    training = translated(
        mlx,
        project(tmp_path, provider, "mlx"),
        "--set",
        "hyperparameters.lr=<lr>",
        "--set",
        "hyperparameters.optimizer=<optimizer>",
    )
    assert training["kind"] == "training" and "engine" not in training
    assert same_job(request["trial"]) == same_job(training["request"])
    assert "<lr>" in json.dumps(request["trial"]) and "0.01" not in json.dumps(request["trial"])


@pytest.mark.parametrize("engine", ["native", "mlx"])
def test_tune_dry_run_prints_what_translate_prints(mlx: Any, tmp_path: Path, engine: str) -> None:
    spec = project(tmp_path, "vertex", engine)
    dry = mlx("tune", spec, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert same_job(json.loads(dry.stdout)) == same_job(translated(mlx, spec, "--tune"))
    assert json.loads(mlx("jobs", "--json").stdout) == []  # nothing was started
