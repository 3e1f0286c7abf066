"""Who runs a SageMaker search when the spec does not say: SageMaker's tuner for AWS's
framework images (they carry the training toolkit its trials start through), mlx's search
for any other image, each trial a CreateTrainingJob with ContainerEntrypoint (issue #15).
What `mlx translate --tune` prints and notes; no call is made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pytest

from mlx.backends.sagemaker.framework_images import is_framework_image
from tests.backends.sagemaker.conftest import FRAMEWORK_IMAGE, IMAGE, SETTINGS, sagemaker_spec
from tests.backends.sagemaker.test_render import validate

TUNE = {
    "objective": {"metric": "loss"},
    "max_trials": 4,
    "parameters": {"lr": {"type": "float", "min": 0.001, "max": 0.1}},
}
WHY = (
    "is not an AWS framework image, so it may lack the SageMaker training toolkit that "
    "SageMaker's tuner starts each trial with"
)


def note_for_default(image: str) -> str:
    return (
        f"Note: `image` {image} {WHY}: mlx runs the search, each trial a training job; set "
        "`tune.engine: native` to use SageMaker's tuner"
    )


def translate(
    mlx: Any, tmp_path: Path, image: str, engine: Optional[str] = None, **fields: Any
) -> tuple[int, Any, str]:
    """Exit code, the translation (None on an error), stderr as one line."""
    tune = {**TUNE, **({"engine": engine} if engine else {})}
    spec = sagemaker_spec(tmp_path, image=image, metrics=[{"name": "loss"}], tune=tune, **fields)
    result = mlx("translate", spec, "--tune", "--json")
    found = json.loads(result.stdout) if result.exit_code == 0 else None
    return result.exit_code, found, " ".join(result.stderr.split())


def test_an_aws_framework_image_tunes_with_sagemakers_tuner(mlx: Any, tmp_path: Path) -> None:
    code, found, said = translate(mlx, tmp_path, FRAMEWORK_IMAGE)
    assert code == 0, said
    assert found["engine"] == "native"
    validate("CreateHyperParameterTuningJob", found["request"])
    assert "Note:" not in said


def test_a_private_ecr_image_tunes_with_mlx_and_says_why(mlx: Any, tmp_path: Path) -> None:
    code, found, said = translate(mlx, tmp_path, IMAGE)
    assert code == 0, said
    assert found["engine"] == "mlx"
    assert note_for_default(IMAGE) in said
    trial = found["request"]["trial"]
    validate("CreateTrainingJob", trial)
    specification = trial["AlgorithmSpecification"]
    assert specification["TrainingImage"] == IMAGE
    assert specification["ContainerEntrypoint"][:2] == ["sh", "-c"]  # no toolkit needed
    assert trial["HyperParameters"]["lr"] == "<lr>"


def test_a_docker_hub_image_tunes_with_mlx_through_the_jobs_vpc(mlx: Any, tmp_path: Path) -> None:
    # A tuning job's trials pull from ECR only; a training job also from a private
    # registry in its VPC: mlx's trials can use any image SageMaker training can.
    vpc = {"image_access": "vpc", "subnets": ["subnet-0abc"], "security_group_ids": ["sg-0abc"]}
    code, found, said = translate(mlx, tmp_path, "python:3.11-slim", sagemaker={**SETTINGS, **vpc})
    assert code == 0, said
    assert found["engine"] == "mlx"
    assert note_for_default("python:3.11-slim") in said
    trial = found["request"]["trial"]
    validate("CreateTrainingJob", trial)
    assert trial["AlgorithmSpecification"]["TrainingImageConfig"] == {
        "TrainingRepositoryAccessMode": "Vpc"
    }


def test_a_docker_hub_image_without_a_vpc_gets_the_training_jobs_refusal(
    mlx: Any, tmp_path: Path
) -> None:
    code, _found, said = translate(mlx, tmp_path, "python:3.11-slim")
    assert code == 1
    assert note_for_default("python:3.11-slim") in said
    assert (
        "Error: `image` 'python:3.11-slim' is not in Amazon ECR: SageMaker pulls training "
        "images from ECR, or from a private registry in the job's VPC "
        "(`sagemaker.image_access: vpc`)"
    ) in said


def test_engine_native_with_an_image_of_ones_own_is_sagemakers_tuner_with_a_warning(
    mlx: Any, tmp_path: Path
) -> None:
    code, found, said = translate(mlx, tmp_path, IMAGE, "native")
    assert code == 0, said
    assert found["engine"] == "native"
    validate("CreateHyperParameterTuningJob", found["request"])
    assert (
        f"Note: `tune.engine: native`, but `image` {IMAGE} {WHY}; without it every trial "
        "fails at start (remove `tune.engine` to let mlx run the search, each trial a "
        "training job)"
    ) in said


def test_engine_mlx_with_a_framework_image_is_mlxs_search_without_a_note(
    mlx: Any, tmp_path: Path
) -> None:
    code, found, said = translate(mlx, tmp_path, FRAMEWORK_IMAGE, "mlx")
    assert code == 0, said
    assert found["engine"] == "mlx"
    validate("CreateTrainingJob", found["request"]["trial"])
    assert "Note:" not in said


@pytest.mark.parametrize(
    ("image", "framework"),
    [
        # The registries of the SageMaker Python SDK's image_uri_config/*.json.
        ("763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.5.1-gpu-py311", True),
        ("626614931356.dkr.ecr.af-south-1.amazonaws.com/tensorflow-training:2.16-cpu", True),
        ("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:2.3-cpu", True),
        ("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1", True),
        ("520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow-scriptmode:1.12", True),
        ("763104351884.dkr.ecr-fips.us-east-1.amazonaws.com/huggingface-pytorch-training:2", True),
        ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training@sha256:" + "a" * 64, True),
        # Af-south-1's Deep Learning Containers live in another account than us-east-1's.
        ("763104351884.dkr.ecr.af-south-1.amazonaws.com/pytorch-training:2.5.1", False),
        # Inference images and built-in algorithms run no user script through the toolkit.
        ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5.1-cpu", False),
        ("811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", False),
        # The same repository name in one's own account is one's own image.
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1", False),
        ("python:3.11-slim", False),
    ],
)
def test_which_images_are_aws_framework_images(image: str, framework: bool) -> None:
    assert is_framework_image(image) is framework
