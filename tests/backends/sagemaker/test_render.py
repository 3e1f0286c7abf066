"""What `mlx translate --provider sagemaker` prints: the exact kwargs, valid for botocore."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.backends.sagemaker.conftest import BUCKET, IMAGE, ROLE, sagemaker_spec
from tests.conftest import write

DIGEST = re.compile(rf"^s3://{BUCKET}/mlx/inputs/[0-9a-f]{{64}}/$")


def translate(mlx: Any, spec: Path, *args: str) -> dict[str, Any]:
    result = mlx("translate", spec, "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["request"]


def validate(operation: str, params: dict[str, Any]) -> None:
    """botocore's own client-side parameter validation of ``params``."""
    import boto3
    from botocore.validate import validate_parameters

    model = boto3.session.Session(region_name="us-east-1").client("sagemaker").meta.service_model
    validate_parameters(params, model.operation_model(operation).input_shape)


def full_spec(tmp_path: Path, accelerator: str = "A100:1") -> Path:
    write(tmp_path / "project" / "data" / "test.csv", "a,b\n1,2\n")
    return sagemaker_spec(
        tmp_path,
        name="iris",
        hyperparameters={"lr": 0.01, "layers": [64, 32], "use-amp": True},
        args=["--config", "conf.yaml"],
        inputs={"train": "s3://data-bucket/iris/train/", "test": "./data/test.csv"},
        resources={
            "accelerator": accelerator,
            "nodes": 2,
            "spot": True,
            "max_runtime": "4h",
            "disk": "100GB",
        },
        env={"LOG_LEVEL": "info"},
        secrets={"WANDB_API_KEY": "env:WANDB_API_KEY"},
        metrics=[{"name": "val_loss"}],
        tune={
            "objective": {"metric": "val_loss", "goal": "minimize"},
            "engine": "native",  # SageMaker's tuner (the image is the user's own)
            "max_trials": 12,
            "parallel_trials": 3,
            "early_stopping": True,
            "seed": 5,
            "parameters": {
                "lr": {"type": "float", "min": 1e-5, "max": 1e-2, "scale": "log"},
                "hidden": {"type": "int", "min": 16, "max": 1024, "scale": "log"},
                "optimizer": {"type": "choice", "values": ["sgd", "adam", "true"]},
                "batch": {"type": "discrete", "values": [32, 64]},
            },
        },
    )


def channel(name: str, uri: str) -> dict[str, Any]:
    source = {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
    return {"ChannelName": name, "DataSource": {"S3DataSource": source}}


@pytest.mark.parametrize(
    ("accelerator", "instance"), [("A100:1", "ml.p4d.24xlarge"), ("T4:1", "ml.g4dn.xlarge")]
)
def test_training_request_has_every_field_and_passes_botocore(
    mlx: Any, tmp_path: Path, accelerator: str, instance: str
) -> None:
    request = translate(mlx, full_spec(tmp_path, accelerator))
    job = request["TrainingJobName"]
    assert re.fullmatch(r"iris-[a-z0-9]{6}", job)
    channels = request.pop("InputDataConfig")
    assert [c["ChannelName"] for c in channels] == ["mlx", "code", "train", "test"]
    assert channels[0] == channel("mlx", f"s3://{BUCKET}/mlx/{job}/_mlx/")
    assert channels[2] == channel("train", "s3://data-bucket/iris/train/")
    for staged in (channels[1], channels[3]):  # uploaded once, by content
        assert DIGEST.match(staged["DataSource"]["S3DataSource"]["S3Uri"])
    assert request == {
        "TrainingJobName": job,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": [
                "sh",
                "-c",
                'exec "$(command -v python3 || command -v python)" '
                "/opt/ml/input/data/mlx/mlx-bootstrap.pyz --config "
                '/opt/ml/input/data/mlx/runtime.json -- "$@"',
                "mlx",
            ],
            "ContainerArguments": [
                *("python", "train.py", "--config", "conf.yaml", "--lr", "0.01"),
                *("--layers", "64", "--layers", "32", "--use-amp"),
            ],
            "MetricDefinitions": [
                {
                    "Name": "val_loss",
                    "Regex": r"\bval_loss[=:] *([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)",
                }
            ],
        },
        # As the console shows them and hyperparameters.json holds them: plain strings.
        "HyperParameters": {"lr": "0.01", "layers": "[64, 32]", "use-amp": "true"},
        "ResourceConfig": {"InstanceType": instance, "InstanceCount": 2, "VolumeSizeInGB": 100},
        "StoppingCondition": {"MaxRuntimeInSeconds": 14400, "MaxWaitTimeInSeconds": 28800},
        "RoleArn": ROLE,
        "OutputDataConfig": {
            "S3OutputPath": f"s3://{BUCKET}/mlx/{job}/",
            "CompressionType": "NONE",
        },
        "CheckpointConfig": {
            "S3Uri": f"s3://{BUCKET}/mlx/{job}/checkpoints/",
            "LocalPath": "/opt/ml/checkpoints",
        },
        "EnableManagedSpotTraining": True,
        "Environment": {"LOG_LEVEL": "info", "WANDB_API_KEY": "********"},
        "TensorBoardOutputConfig": {
            "S3OutputPath": f"s3://{BUCKET}/mlx/{job}/",
            "LocalPath": "/mlx/tensorboard",
        },
        "Tags": [{"Key": "mlx-job-id", "Value": job}, {"Key": "mlx-name", "Value": "iris"}],
    }
    validate("CreateTrainingJob", {**request, "InputDataConfig": channels})


def test_tuning_request_ranges_strategy_and_encoded_statics(mlx: Any, tmp_path: Path) -> None:
    request = translate(mlx, full_spec(tmp_path), "--tune")
    validate("CreateHyperParameterTuningJob", request)
    name = request["HyperParameterTuningJobName"]
    assert len(name) <= 32 and name.startswith("iris-")
    assert request["HyperParameterTuningJobConfig"] == {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "val_loss"},
        "ResourceLimits": {"MaxParallelTrainingJobs": 3, "MaxNumberOfTrainingJobs": 12},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {
                    "Name": "lr",
                    "MinValue": "1e-05",
                    "MaxValue": "0.01",
                    "ScalingType": "Logarithmic",
                }
            ],
            "IntegerParameterRanges": [
                {
                    "Name": "hidden",
                    "MinValue": "16",
                    "MaxValue": "1024",
                    "ScalingType": "Logarithmic",
                }
            ],
            "CategoricalParameterRanges": [
                {"Name": "optimizer", "Values": ['"sgd"', '"adam"', '"true"']},
                {"Name": "batch", "Values": ["32", "64"]},
            ],
        },
        "TrainingJobEarlyStoppingType": "Auto",
        "RandomSeed": 5,
    }
    definition = request["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {
        "layers": "[64, 32]",
        "use-amp": "true",
        "sagemaker_program": '"/opt/ml/input/data/mlx/mlx_entry.py"',
        "sagemaker_region": '"us-east-1"',
    }
    assert definition["Environment"]["SAGEMAKER_PROGRAM"] == "/opt/ml/input/data/mlx/mlx_entry.py"
    assert "CheckpointConfig" not in definition  # one for all trials: each would get all
    assert "ContainerEntrypoint" not in definition["AlgorithmSpecification"]
    assert definition["ResourceConfig"]["InstanceCount"] == 2
    assert definition["EnableManagedSpotTraining"] is True


@pytest.mark.parametrize(
    ("algorithm", "strategy", "early"),
    [("random", "Random", "Auto"), ("grid", "Grid", "Auto"), ("hyperband", "Hyperband", "Off")],
)
def test_each_algorithm_is_a_valid_strategy(
    mlx: Any, tmp_path: Path, algorithm: str, strategy: str, early: str
) -> None:
    parameters = {"depth": {"type": "int", "min": 1, "max": 3}}
    spec = sagemaker_spec(
        tmp_path,
        metrics=[{"name": "acc"}],
        tune={
            "objective": {"metric": "acc", "goal": "maximize"},
            "engine": "native",
            "algorithm": algorithm,
            "early_stopping": True,
            "parameters": parameters,
            **({"max_resource": 30} if algorithm == "hyperband" else {}),
        },
    )
    request = translate(mlx, spec, "--tune")
    validate("CreateHyperParameterTuningJob", request)
    config = request["HyperParameterTuningJobConfig"]
    assert (config["Strategy"], config["TrainingJobEarlyStoppingType"]) == (strategy, early)
    assert config["HyperParameterTuningJobObjective"]["Type"] == "Maximize"
    if algorithm == "hyperband":  # MaxResource, which SageMaker cannot infer without `epochs`
        assert config["StrategyConfig"] == {
            "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 30}
        }
    else:
        assert "StrategyConfig" not in config
    if algorithm == "grid":  # SageMaker's grid takes categorical ranges only, and counts them
        assert config["ParameterRanges"] == {
            "CategoricalParameterRanges": [{"Name": "depth", "Values": ["1", "2", "3"]}]
        }
        assert "MaxNumberOfTrainingJobs" not in config["ResourceLimits"]


def test_long_job_ids_give_a_valid_tuning_name() -> None:
    from mlx.backends.sagemaker.tuning import tuning_name

    job = "a-rather-long-experiment-name-for-tuning-abc123"
    name = tuning_name(job)
    assert len(name) <= 32 and name.startswith("a-rather-long-experiment-")
    assert tuning_name(job) == name != tuning_name(job.replace("abc123", "abc124"))
    assert tuning_name("short-abc123") == "short-abc123"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sagemaker": {"bucket": BUCKET}}, "`sagemaker.role` is required"),
        (
            {"sagemaker": {"role": "SageMakerRole", "bucket": BUCKET}},
            "`sagemaker.role` 'SageMakerRole' is not an IAM role ARN",
        ),
        ({"sagemaker": {"role": ROLE}}, "`sagemaker.bucket` is required"),
        (
            {"sagemaker": {"role": ROLE, "bucket": "My_Bucket"}},
            "`sagemaker.bucket` 'My_Bucket' is not an S3 bucket name",
        ),
        (
            {"inputs": {"train": "gs://bucket/train/"}},
            "`inputs.train`: SageMaker reads s3:// URIs and local paths, not gs://",
        ),
        (
            {"inputs": {"train": "azureml://datastores/x/paths/y"}},
            "`inputs.train`: SageMaker reads s3:// URIs and local paths, not azureml://",
        ),
        ({"inputs": {"code": "s3://bucket/x/"}}, "`inputs.code`: the name 'code' is taken"),
        (
            {"args": [str(i) for i in range(99)]},
            "`command` + `args` + `hyperparameters` make 101 arguments; SageMaker allows 100",
        ),
        (
            {"hyperparameters": {"note": "x" * 300}},
            "`hyperparameters.note`: the argument 'xxxx",
        ),
        ({"env": {"BIG": "y" * 600}}, "`env.BIG` is 600 characters once encoded"),
        (
            {"hyperparameters": {"note": "a\nb"}},
            "`hyperparameters.note`: SageMaker takes arguments of one line",
        ),
        (
            {"resources": {"spot": True, "max_runtime": "2h"}, "sagemaker": {"max_wait": "1h"}},
            "`sagemaker.max_wait` must be at least `resources.max_runtime`",
        ),
    ],
)
def test_invalid_requests_fail_before_any_call_naming_the_field(
    mlx: Any, tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    if "sagemaker" in fields:
        fields["sagemaker"] = {"region": "us-east-1", **fields["sagemaker"]}
    if "max_wait" in fields.get("sagemaker", {}):
        fields["sagemaker"].update(role=ROLE, bucket=BUCKET)
    result = mlx("translate", sagemaker_spec(tmp_path, **fields))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {message}"), result.stderr
    assert "Traceback" not in result.stderr


def test_tuning_static_hyperparameter_over_2500_characters_is_refused(
    mlx: Any, tmp_path: Path
) -> None:
    spec = sagemaker_spec(
        tmp_path,
        hyperparameters={"blob": "z" * 2499},  # 2501 once JSON-quoted
        metrics=[{"name": "acc"}],
        tune={
            "objective": {"metric": "acc"},
            "engine": "native",
            "parameters": {"lr": {"type": "float", "min": 0.1, "max": 1}},
        },
    )
    result = mlx("translate", spec, "--tune")
    assert result.exit_code == 1
    assert (
        "Error: `hyperparameters.blob` is 2501 characters once encoded; SageMaker allows at "
        "most 2500"
    ) in result.stderr
