"""The specs mlx ships (``configs/``) and the README's spec example translate for SageMaker
into requests that botocore and SageMaker's rules (``tests/emulators/aws_rules.py``) accept."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from tests.backends.sagemaker.conftest import BUCKET, ROLE
from tests.backends.sagemaker.test_render import validate
from tests.conftest import REPO, readme_project, write
from tests.emulators import aws_rules

ACTIONS = {False: "CreateTrainingJob", True: "CreateHyperParameterTuningJob"}


@pytest.fixture(autouse=True)
def sagemaker_settings() -> None:
    """The account settings a user keeps in ~/.config/mlx/config.yaml."""
    settings = {"role": ROLE, "bucket": BUCKET, "region": "us-east-1"}
    write(Path(os.environ["MLX_CONFIG"]), yaml.safe_dump({"sagemaker": settings}))


def accepted(mlx: Any, spec: Path, tune: bool, engine: Optional[str] = None) -> dict[str, Any]:
    """The request ``translate`` prints, valid for SageMaker; with ``tune``, ``engine`` is
    the one the translation names, and with mlx's engine the request is a trial's."""
    args = ["translate", spec, "--provider", "sagemaker", "--json", *(["--tune"] if tune else [])]
    result = mlx(*args)
    assert result.exit_code == 0, result.stderr
    translated = json.loads(result.stdout)
    assert translated.get("engine") == engine
    request, action = translated["request"], ACTIONS[tune]
    if engine == "mlx":  # mlx runs the search: each trial is a training job
        request, action = request["trial"], ACTIONS[False]
    validate(action, request)
    assert aws_rules.problems(action, request) is None
    return request


@pytest.mark.parametrize(
    ("name", "tune"),
    [("quickstart.yaml", False), ("tune-quickstart.yaml", False), ("tune-quickstart.yaml", True)],
)
def test_shipped_specs_are_valid_sagemaker_requests(mlx: Any, name: str, tune: bool) -> None:
    # The shipped specs' image is AWS's scikit-learn image: SageMaker's tuner runs it.
    request = accepted(mlx, REPO / "configs" / name, tune, "native" if tune else None)
    definition = request["TrainingJobDefinition"] if tune else request
    image = definition["AlgorithmSpecification"]["TrainingImage"]
    assert image.startswith("683313688378.dkr.ecr.us-east-1.amazonaws.com/")


@pytest.mark.parametrize("tune", [False, True])
def test_the_readme_spec_example_is_a_valid_sagemaker_request(
    mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tune: bool
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "not-a-real-key")
    spec = readme_project(tmp_path / "project")
    # Its SageMaker image is the user's own: mlx runs the search, each trial a training job.
    definition = accepted(mlx, spec, tune, "mlx" if tune else None)
    # ml.p4d has local NVMe: no volume key, whatever the settings.
    assert definition["ResourceConfig"]["InstanceType"] == "ml.p4d.24xlarge"
