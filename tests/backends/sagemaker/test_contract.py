"""The backend contract on SageMaker: the test server plays the jobs' part."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.backends import contract
from tests.backends.sagemaker.conftest import (
    IMAGE,
    SETTINGS,
    now_ms,
    put_node_lines,
    put_object,
    wait_for_request,
)
from tests.emulators.aws import AwsServer


class TestSageMakerContract(contract.BackendContract):
    @pytest.fixture(autouse=True)
    def _server(self, sm: AwsServer) -> None:
        self.aws = sm
        sm.log_page_size = 7  # 30 lines of 2 nodes: 5 pages

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "sagemaker", "image": IMAGE, "sagemaker": dict(SETTINGS)}

    def play_training(self) -> None:
        name = wait_for_request(self.aws, "CreateTrainingJob")["TrainingJobName"]
        self.aws.set_training_job(name, status="InProgress")
        lines = {node: contract.node_lines(node) for node in range(contract.NODES)}
        put_node_lines(self.aws, name, lines, now_ms())
        put_object(
            self.aws, f"mlx/{name}/{name}/output/model/weights.txt", contract.TRAINED.encode()
        )
        self.aws.set_training_job(name, status="Completed")

    def play_tuning(self) -> None:
        request = wait_for_request(self.aws, "CreateHyperParameterTuningJob")
        name = request["HyperParameterTuningJobName"]
        job_id = next(t["Value"] for t in request["Tags"] if t["Key"] == "mlx-job-id")
        for x in contract.OBJECTIVES:
            trial = self.aws.add_tuning_trial(name, hyperparameters={"x": json.dumps(x)})
            put_node_lines(self.aws, trial, {0: [f"loss={x!r}"]}, now_ms())
            put_object(
                self.aws, f"mlx/{job_id}/{trial}/output/model/weights.txt", f"loss={x!r}".encode()
            )
            self.aws.set_trial(trial, objective=x, status="Completed")
        self.aws.set_tuning_job(name, status="Completed")
