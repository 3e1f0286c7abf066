"""Requests SageMaker accepts: each rule of its API reference is checked by mlx before any
upload, and enforced by the AWS test server (``tests/emulators/aws_rules.py``), so a request
that breaks it fails here whichever side lets it through."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from tests.backends.contract import started
from tests.backends.sagemaker.conftest import (
    BUCKET,
    IMAGE,
    SETTINGS,
    sagemaker_spec,
    wait_for_request,
)
from tests.emulators.aws import AwsServer

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SUBNETS = {"subnets": ["subnet-0abc"], "security_group_ids": ["sg-0abc"]}
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:registry-login"
TUNE = {
    "objective": {"metric": "loss"},
    "engine": "native",  # these are SageMaker's tuning-job rules
    "parameters": {"lr": {"type": "float", "min": 0.001, "max": 0.1}},
}


def submitted(mlx: Any, sm: AwsServer, spec: Path, *, tune: bool = False) -> dict[str, Any]:
    """What the test server received (and accepted) for ``spec``."""
    result = mlx("tune" if tune else "train", spec, "--detach")
    assert result.exit_code == 0, result.stderr
    started(result.stderr)
    action = "CreateHyperParameterTuningJob" if tune else "CreateTrainingJob"
    return wait_for_request(sm, action)


def refused(mlx: Any, sm: AwsServer, spec: Path, message: str, *, tune: bool = False) -> str:
    """``spec`` is refused with ``message``, before anything was uploaded or created."""
    result = mlx("tune" if tune else "train", spec, "--detach")
    assert result.exit_code == 1, result.stderr
    # The error line, after what mlx notes about the job first (its instance, its engine).
    assert f"\nError: {message}" in f"\n{result.stderr}", result.stderr
    assert "Traceback" not in result.stderr
    assert [c for c in sm.plan.calls if c.startswith(f"S3 PUT /{BUCKET}/")] == []
    assert sm.requests("CreateTrainingJob") == sm.requests("CreateHyperParameterTuningJob") == []
    return result.stderr


def settings(**extra: Any) -> dict[str, Any]:
    return {**SETTINGS, **extra}


# ---- 1. KMS and the ML storage volume ----------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "instance", "volume_key"),
    [
        ({"accelerator": "T4:1"}, "ml.g4dn.xlarge", False),  # local NVMe
        ({"accelerator": "A10G:1"}, "ml.g5.xlarge", False),  # local NVMe, no "d"
        ({"cpus": 2, "memory": "4GB"}, None, True),  # EBS
    ],
)
def test_volume_kms_key_only_where_the_instance_has_no_local_storage(
    mlx: Any,
    sm: AwsServer,
    tmp_path: Path,
    resources: dict[str, Any],
    instance: Any,
    volume_key: bool,
) -> None:
    spec = sagemaker_spec(tmp_path, resources=resources, sagemaker=settings(kms_key_id=KMS_KEY))
    translated = mlx("translate", spec, "--json")
    request = submitted(mlx, sm, spec)
    config = request["ResourceConfig"]
    if instance:
        assert config["InstanceType"] == instance
    assert ("VolumeKmsKeyId" in config) is volume_key
    assert request["OutputDataConfig"]["KmsKeyId"] == KMS_KEY  # the output stays encrypted
    note = f"Warning: `sagemaker.kms_key_id` encrypts the job's output in S3 only: {instance}"
    assert (note in translated.stderr) is not volume_key


def test_disk_on_a_local_nvme_instance_warns_that_it_does_nothing(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    spec = sagemaker_spec(tmp_path, resources={"accelerator": "T4:1", "disk": "200GB"})
    result = mlx("train", spec, "--detach")
    assert result.exit_code == 0, result.stderr
    assert (
        "Warning: `resources.disk` has no effect on ml.g4dn.xlarge: it has local NVMe storage"
        in " ".join(result.stderr.split())
    )
    cpu = sagemaker_spec(tmp_path, resources={"cpus": 2, "disk": "200GB"})
    assert "resources.disk" not in mlx("translate", cpu).stderr


# ---- 2. Hyperband ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hyperparameters", "max_resource", "expected"),
    [({"epochs": 12}, None, 12), ({"epochs": 12}, 30, 30), ({}, 30, 30)],
)
def test_hyperband_sends_max_resource(
    mlx: Any,
    sm: AwsServer,
    tmp_path: Path,
    hyperparameters: dict[str, Any],
    max_resource: Optional[int],
    expected: int,
) -> None:
    tune = {**TUNE, "algorithm": "hyperband", "early_stopping": True}
    if max_resource:
        tune["max_resource"] = max_resource
    spec = sagemaker_spec(
        tmp_path, hyperparameters=hyperparameters, metrics=[{"name": "loss"}], tune=tune
    )
    config = submitted(mlx, sm, spec, tune=True)["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": expected}
    }
    assert config["TrainingJobEarlyStoppingType"] == "Off"


def test_hyperband_without_a_max_resource_is_refused_before_upload(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    tune = {
        "objective": {"metric": "loss"},
        "engine": "native",
        "algorithm": "hyperband",
        "early_stopping": True,
        # `epochs` is tuned, so SageMaker has no static value to infer MaxResource from.
        "parameters": {"epochs": {"type": "int", "min": 5, "max": 40}},
    }
    spec = sagemaker_spec(tmp_path, metrics=[{"name": "loss"}], tune=tune)
    stderr = refused(
        mlx,
        sm,
        spec,
        "`tune.algorithm: hyperband` on SageMaker needs `tune.max_resource`",
        tune=True,
    )
    assert "Hint: e.g. tune: {max_resource: 30}" in stderr


# ---- 4. Limits per request type, mlx's own entries counted -------------------------------


def env(count: int) -> dict[str, str]:
    return {f"VAR_{i}": "x" for i in range(count)}


def test_a_tuning_job_takes_48_variables_a_training_job_100(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    # mlx's own SAGEMAKER_PROGRAM (the trials' program) is one of the 48.
    spec = sagemaker_spec(tmp_path, env=env(48), metrics=[{"name": "loss"}], tune=TUNE)
    refused(
        mlx,
        sm,
        spec,
        "`env` has 48 variables plus mlx's own 1 (SAGEMAKER_PROGRAM): 49; SageMaker allows at "
        "most 48 in a tuning job",
        tune=True,
    )
    assert len(submitted(mlx, sm, spec)["Environment"]) == 48  # a training job: up to 100
    spec = sagemaker_spec(tmp_path, env=env(47), metrics=[{"name": "loss"}], tune=TUNE)
    assert len(submitted(mlx, sm, spec, tune=True)["TrainingJobDefinition"]["Environment"]) == 48


def test_static_hyperparameters_count_mlx_own_two(mlx: Any, sm: AwsServer, tmp_path: Path) -> None:
    many = {f"h{i}": i for i in range(99)}
    spec = sagemaker_spec(tmp_path, hyperparameters=many, metrics=[{"name": "loss"}], tune=TUNE)
    refused(
        mlx,
        sm,
        spec,
        "`hyperparameters` has 99 entries plus mlx's own 2 (sagemaker_program, "
        "sagemaker_region): 101; SageMaker allows at most 100",
        tune=True,
    )
    del many["h98"]
    spec = sagemaker_spec(tmp_path, hyperparameters=many, metrics=[{"name": "loss"}], tune=TUNE)
    static = submitted(mlx, sm, spec, tune=True)["TrainingJobDefinition"]["StaticHyperParameters"]
    assert len(static) == 100


def test_input_channels_count_the_mlx_and_code_channels(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    inputs = {f"in{i}": f"s3://data-bucket/part-{i}/" for i in range(19)}
    spec = sagemaker_spec(tmp_path, inputs=inputs)
    refused(
        mlx,
        sm,
        spec,
        "`inputs` has 19 entries plus mlx's own 2 (mlx, code): 21 input channels; SageMaker "
        "allows at most 20",
    )
    del inputs["in18"]
    spec = sagemaker_spec(tmp_path, inputs=inputs)
    assert len(submitted(mlx, sm, spec)["InputDataConfig"]) == 20


# ---- 5. Metric names ---------------------------------------------------------------------


def test_a_metric_name_with_spaces_reaches_sagemaker(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    # The name AWS's own PyTorch tuning example uses; MetricName is `.+`, 1-255 characters.
    metric = "average test loss"
    tune = {**TUNE, "objective": {"metric": metric}}
    spec = sagemaker_spec(tmp_path, metrics=[{"name": metric}], tune=tune)
    training = submitted(mlx, sm, spec)["AlgorithmSpecification"]["MetricDefinitions"]
    assert training[0]["Name"] == metric
    tuning = submitted(mlx, sm, spec, tune=True)["HyperParameterTuningJobConfig"]
    assert tuning["HyperParameterTuningJobObjective"]["MetricName"] == metric


# ---- 10. Images --------------------------------------------------------------------------


@pytest.mark.parametrize("tune", [False, True])
def test_an_image_outside_ecr_is_refused_before_upload(
    mlx: Any, sm: AwsServer, tmp_path: Path, tune: bool
) -> None:
    spec = sagemaker_spec(tmp_path, image="python:3.11-slim", metrics=[{"name": "loss"}], tune=TUNE)
    message = (
        "`image` 'python:3.11-slim' is not in Amazon ECR: the trials of a SageMaker tuning job"
        if tune
        else "`image` 'python:3.11-slim' is not in Amazon ECR: SageMaker pulls training images"
    )
    stderr = refused(mlx, sm, spec, message, tune=tune)
    assert "Hint: Push the image to Amazon ECR" in stderr
    assert "`image:` may name one image per provider" in " ".join(stderr.split())


def test_a_private_registry_in_the_job_vpc_with_image_access_vpc(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    image = "registry.example.com/team/train:1"
    spec = sagemaker_spec(
        tmp_path,
        image=image,
        sagemaker=settings(image_access="vpc", image_credentials=LAMBDA, **SUBNETS),
    )
    request = submitted(mlx, sm, spec)
    assert request["AlgorithmSpecification"]["TrainingImage"] == image
    assert request["AlgorithmSpecification"]["TrainingImageConfig"] == {
        "TrainingRepositoryAccessMode": "Vpc",
        "TrainingRepositoryAuthConfig": {"TrainingRepositoryCredentialsProviderArn": LAMBDA},
    }
    assert request["VpcConfig"] == {"Subnets": ["subnet-0abc"], "SecurityGroupIds": ["sg-0abc"]}


def test_image_access_vpc_needs_the_job_in_a_vpc(mlx: Any, sm: AwsServer, tmp_path: Path) -> None:
    spec = sagemaker_spec(
        tmp_path, image="registry.example.com/t:1", sagemaker=settings(image_access="vpc")
    )
    refused(mlx, sm, spec, "`sagemaker.image_access: vpc` pulls the image through the job's VPC")


def test_image_may_name_one_image_per_provider(mlx: Any, sm: AwsServer, tmp_path: Path) -> None:
    images = {"sagemaker": IMAGE, "vertex": "python:3.11-slim", "azure": "python:3.11-slim"}
    spec = sagemaker_spec(tmp_path, image=images)
    assert submitted(mlx, sm, spec)["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    missing = sagemaker_spec(tmp_path, image={"vertex": "python:3.11-slim"})
    result = mlx("translate", missing)
    assert result.exit_code == 1
    assert "`image`: no image for sagemaker: the mapping names one for vertex; add " in (
        result.stderr
    )


# ---- 13. The toolkit's region ------------------------------------------------------------


def test_tuning_trials_get_the_region_for_the_training_toolkit(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    # No region in the spec: the session's (AWS_DEFAULT_REGION), as the job's is.
    no_region = {k: v for k, v in SETTINGS.items() if k != "region"}
    spec = sagemaker_spec(tmp_path, sagemaker=no_region, metrics=[{"name": "loss"}], tune=TUNE)
    static = submitted(mlx, sm, spec, tune=True)["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["sagemaker_region"] == '"us-east-1"'
