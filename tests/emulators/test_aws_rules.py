"""The AWS test server refuses what SageMaker refuses (``aws_rules``), over real boto3 calls:
what botocore lets through client-side (lengths, patterns, enums, counts) and the API
reference's rules that its service model does not encode."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulators.aws import AwsServer

pytest_plugins = ["tests.emulators.aws_fixtures"]

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1"
DEFINITION: dict[str, Any] = {
    "AlgorithmSpecification": {
        "TrainingImage": ECR,
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
    },
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/x/"}},
        }
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/mlx/"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC = {"Subnets": ["subnet-0abc"], "SecurityGroupIds": ["sg-0abc"]}


def training(**changes: Any) -> dict[str, Any]:
    request = {"TrainingJobName": "job", **copy.deepcopy(DEFINITION)}
    for path, value in changes.items():
        _set(request, path, value)
    return request


def tuning(strategy: str = "Bayesian", **changes: Any) -> dict[str, Any]:
    request = {
        "HyperParameterTuningJobName": "tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.1", "MaxValue": "1"}]
            },
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": copy.deepcopy(DEFINITION),
    }
    for path, value in changes.items():
        _set(request, path, value)
    return request


def _set(request: dict[str, Any], path: str, value: Any) -> None:
    """``A__B=v`` sets request["A"]["B"] = v."""
    *parents, last = path.split("__")
    target = request
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value


def refusal(call: Any, **request: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**request)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error["Message"])


# ---- the service model's constraints -----------------------------------------------------


def test_lengths_patterns_and_counts_from_the_service_model(aws: AwsServer) -> None:
    sm = aws.client("sagemaker", attempts=1)
    message = refusal(sm.create_training_job, **training(TrainingJobName="bad_name"))
    assert message == (
        "1 validation error detected: Value 'bad_name' at 'TrainingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    )
    env = {f"V{i}": "x" for i in range(101)}
    assert "Member must have length less than or equal to 100" in refusal(
        sm.create_training_job, **training(Environment=env)
    )
    channels = [dict(DEFINITION["InputDataConfig"][0], ChannelName=f"c{i}") for i in range(21)]
    assert "at 'InputDataConfig' failed" in refusal(
        sm.create_training_job, **training(InputDataConfig=channels)
    )
    long_name = [{"Name": "x" * 256, "Regex": "x=(.*)"}]
    assert "at 'AlgorithmSpecification.MetricDefinitions.1.member.Name'" in refusal(
        sm.create_training_job, **training(AlgorithmSpecification__MetricDefinitions=long_name)
    )
    assert "Member must satisfy enum value set" in refusal(
        sm.create_training_job, **training(OutputDataConfig__CompressionType="ZIP")
    )
    # A tuning job's training definition takes 48 variables, not 100.
    assert "at 'TrainingJobDefinition.Environment' failed" in refusal(
        sm.create_hyper_parameter_tuning_job,
        **tuning(TrainingJobDefinition__Environment={f"V{i}": "x" for i in range(49)}),
    )


def test_a_metric_name_with_spaces_is_valid(aws: AwsServer) -> None:
    sm = aws.client("sagemaker", attempts=1)
    metrics = [{"Name": "average test loss", "Regex": "Test set: Average loss: ([0-9.]+)"}]
    sm.create_training_job(**training(AlgorithmSpecification__MetricDefinitions=metrics))


# ---- documented rules --------------------------------------------------------------------


@pytest.mark.parametrize("instance", ["ml.g5.xlarge", "ml.g4dn.xlarge", "ml.p4d.24xlarge"])
def test_volume_kms_key_is_refused_on_local_storage(aws: AwsServer, instance: str) -> None:
    sm = aws.client("sagemaker", attempts=1)
    request = training(
        ResourceConfig__InstanceType=instance, ResourceConfig__VolumeKmsKeyId=KMS_KEY
    )
    assert f"VolumeKmsKeyId is not supported for instance type {instance}" in refusal(
        sm.create_training_job, **request
    )
    sm.create_training_job(**training(ResourceConfig__VolumeKmsKeyId=KMS_KEY))  # ml.m5: EBS
    definition = copy.deepcopy(DEFINITION)
    definition["ResourceConfig"].update(InstanceType=instance, VolumeKmsKeyId=KMS_KEY)
    assert "VolumeKmsKeyId is not supported" in refusal(
        sm.create_hyper_parameter_tuning_job, **tuning(TrainingJobDefinition=definition)
    )


def test_hyperband_needs_max_resource_or_a_static_epochs(aws: AwsServer) -> None:
    sm = aws.client("sagemaker", attempts=1)
    assert "Hyperband cannot infer MaxResource" in refusal(
        sm.create_hyper_parameter_tuning_job, **tuning("Hyperband")
    )
    assert "must be Off to use the Hyperband strategy" in refusal(
        sm.create_hyper_parameter_tuning_job,
        **tuning(
            "Hyperband",
            HyperParameterTuningJobConfig__TrainingJobEarlyStoppingType="Auto",
            TrainingJobDefinition__StaticHyperParameters={"epochs": "10"},
        ),
    )
    assert "StrategyConfig is supported only with the Hyperband strategy" in refusal(
        sm.create_hyper_parameter_tuning_job,
        **tuning(
            HyperParameterTuningJobConfig__StrategyConfig={
                "HyperbandStrategyConfig": {"MaxResource": 10}
            }
        ),
    )
    assert "more than the maximum of 20000" in refusal(
        sm.create_hyper_parameter_tuning_job,
        **tuning(
            "Hyperband",
            HyperParameterTuningJobConfig__StrategyConfig={
                "HyperbandStrategyConfig": {"MaxResource": 20001}
            },
        ),
    )
    sm.create_hyper_parameter_tuning_job(
        **tuning("Hyperband", TrainingJobDefinition__StaticHyperParameters={"epochs": "10"})
    )
    sm.create_hyper_parameter_tuning_job(
        **tuning(
            "Hyperband",
            HyperParameterTuningJobName="tune-2",
            HyperParameterTuningJobConfig__StrategyConfig={
                "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 30}
            },
        )
    )


def test_images_come_from_ecr_or_a_registry_in_the_job_vpc(aws: AwsServer) -> None:
    sm = aws.client("sagemaker", attempts=1)
    hub = "python:3.11-slim"
    assert "the image must be in Amazon ECR, or TrainingRepositoryAccessMode" in refusal(
        sm.create_training_job, **training(AlgorithmSpecification__TrainingImage=hub)
    )
    vpc_mode = {"TrainingRepositoryAccessMode": "Vpc"}
    assert "TrainingRepositoryAccessMode Vpc needs a VpcConfig" in refusal(
        sm.create_training_job,
        **training(
            AlgorithmSpecification__TrainingImage=hub,
            AlgorithmSpecification__TrainingImageConfig=vpc_mode,
        ),
    )
    sm.create_training_job(
        **training(
            AlgorithmSpecification__TrainingImage=hub,
            AlgorithmSpecification__TrainingImageConfig=vpc_mode,
            VpcConfig=VPC,
        )
    )
    # A tuning job's definition cannot name a private registry: ECR only.
    assert "the image must be in Amazon ECR" in refusal(
        sm.create_hyper_parameter_tuning_job,
        **tuning(TrainingJobDefinition__AlgorithmSpecification__TrainingImage=hub),
    )
