"""SageMaker bring-your-own containers on SageMaker itself: the training request carries
``HyperParameters`` as plain strings, so a script that reads hyperparameters.json (MantisAI's
entry point, unchanged) gets the spec's values, as the test server's runner writes the file
from the request; the service model's limits are checked before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.backends.contract import started
from tests.backends.sagemaker.conftest import IMAGE, SETTINGS, wait_for_request
from tests.emulators.aws import AwsServer
from tests.emulators.test_aws_rules import training
from tests.fixtures import mantisai

PLAIN = {"min_df": "1", "max_ngrams": "2", "loss": "log", "learning_rate": "0.01"}


def spec(tmp_path: Path, **fields: Any) -> Path:
    return mantisai.project(
        tmp_path, provider="sagemaker", image=IMAGE, sagemaker=dict(SETTINGS), **fields
    )


def test_mantisai_entrypoint_runs_unchanged_on_sagemaker(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.execute_jobs()
    result = mlx("train", spec(tmp_path))
    assert result.exit_code == 0, result.stdout + result.stderr
    job = started(result.stderr)
    # What the server received: strings, as the console shows them.
    assert wait_for_request(sm, "CreateTrainingJob")["HyperParameters"] == PLAIN
    assert mantisai.PRINTED in mlx("logs", job).stdout
    mantisai.assert_trained(mantisai.pulled_model(mlx, job, tmp_path / "pulled"))


def test_compat_keeps_hyperparameters_out_of_the_arguments(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    """SageMaker gives a BYO container no arguments; with `compat: sagemaker` neither does
    mlx, and an empty command is the image's `train`."""
    sm.execute_jobs()
    result = mlx("train", spec(tmp_path, compat="sagemaker"))
    assert result.exit_code == 0, result.stdout + result.stderr
    request = wait_for_request(sm, "CreateTrainingJob")
    assert request["AlgorithmSpecification"]["ContainerArguments"] == ["python", mantisai.SCRIPT]
    assert request["HyperParameters"] == PLAIN
    assert mantisai.PRINTED in mlx("logs", started(result.stderr)).stdout
    empty = mlx("translate", spec(tmp_path / "empty", compat="sagemaker", command=[]), "--json")
    assert empty.exit_code == 0, empty.stderr
    algorithm = json.loads(empty.stdout)["request"]["AlgorithmSpecification"]
    assert algorithm["ContainerArguments"] == ["train"]


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({f"h{i}": i for i in range(101)}, "`hyperparameters` has 101 entries; SageMaker allows"),
        ({"k" * 257: 1}, "the name is longer than 256 characters"),
        ({"blob": "z" * 2501}, "`hyperparameters.blob` is 2501 characters once encoded"),
    ],
)
def test_hyperparameters_over_the_limits_are_refused_before_sending(
    mlx: Any, sm: AwsServer, tmp_path: Path, hyperparameters: dict[str, Any], message: str
) -> None:
    # With compat the values are not arguments, so the HyperParameters limits are the ones
    # that apply (ContainerArguments' 256 characters do not).
    result = mlx(
        "train", spec(tmp_path, compat="sagemaker", hyperparameters=hyperparameters), "--detach"
    )
    assert result.exit_code == 1
    assert message in result.stderr
    assert sm.requests("CreateTrainingJob") == []


@pytest.mark.parametrize(
    ("hyperparameters", "where"),
    [
        ({f"h{i}": "1" for i in range(101)}, "at 'HyperParameters' failed"),
        ({"k" * 257: "1"}, f"at 'HyperParameters.{'k' * 257}.key' failed"),
        ({"blob": "z" * 2501}, "at 'HyperParameters.blob.value' failed"),
    ],
)
def test_the_test_server_refuses_what_sagemaker_refuses(
    aws: AwsServer, hyperparameters: dict[str, str], where: str
) -> None:
    """The limits mlx checks are botocore's service model's, which the server enforces."""
    client = aws.client("sagemaker", attempts=1)
    with pytest.raises(ClientError) as caught:
        client.create_training_job(**training(HyperParameters=hyperparameters))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert where in caught.value.response["Error"]["Message"]
    client.create_training_job(**training(HyperParameters={"k" * 256: "z" * 2500}))
