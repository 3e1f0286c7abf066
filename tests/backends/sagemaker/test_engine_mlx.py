"""``tune.engine: mlx`` on SageMaker: mlx's search here, each trial a ``CreateTrainingJob``
with ``ContainerEntrypoint`` that the test server runs, in an image WITHOUT the training
toolkit (which SageMaker's own tuner needs: tests/backends/sagemaker/test_runner.py shows
every native trial failing with it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlx.backends.sagemaker.runner import SandboxImage
from tests.backends.sagemaker.conftest import IMAGE, SETTINGS
from tests.emulators.aws import AwsServer
from tests.tuning.engine_scenarios import EngineScenarios


class TestSageMakerEngine(EngineScenarios):
    @pytest.fixture(autouse=True)
    def _servers(self, sm: AwsServer) -> None:
        self.aws = sm
        sm.execute_jobs(SandboxImage(toolkit=False))

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "sagemaker", "image": IMAGE, "sagemaker": dict(SETTINGS)}

    def created(self) -> list[str]:
        jobs = self.aws.client("sagemaker").list_training_jobs(MaxResults=100)
        return [job["TrainingJobName"] for job in jobs["TrainingJobSummaries"]]

    def stopped(self) -> list[str]:
        return [r["TrainingJobName"] for r in self.aws.requests("StopTrainingJob")]

    def lose_next_create(self) -> Any:
        return self.aws.plan.add("CreateTrainingJob", "reset", after_bytes=0, times=1)

    def test_every_trial_is_a_training_job_with_the_container_entrypoint(
        self, mlx: Any, tmp_path: Any
    ) -> None:
        study = self.tune(mlx, self.spec(tmp_path, max_trials=2))
        assert [t["state"] for t in study["trials"]] == ["succeeded", "succeeded"]
        requests = self.aws.requests("CreateTrainingJob")
        assert all(r["AlgorithmSpecification"].get("ContainerEntrypoint") for r in requests)
        assert not self.aws.requests("CreateHyperParameterTuningJob")

    def test_cancel_stops_the_driver_and_the_running_trials_on_the_cloud(
        self, mlx: Any, tmp_path: Any
    ) -> None:
        path = self.spec(tmp_path, "slow", algorithm="random", max_trials=4)
        started = mlx("tune", path, "--detach", "--json")
        assert started.exit_code == 0, started.stderr
        job = json.loads(started.stdout)["id"]
        slow = self.wait_for(mlx, job, lambda t: t[1]["state"] == "running")
        cancelled = mlx("cancel", job)
        assert cancelled.exit_code == 0, cancelled.stderr
        study = json.loads(mlx("status", job, "--json").stdout)
        assert study["state"] == "cancelled"
        assert slow in self.stopped()  # StopTrainingJob for the trial that ran
        assert not [t for t in study["trials"] if t["state"] in ("pending", "running")]
        assert "[mlx] tuning cancelled" in mlx("logs", job).stdout
