"""What a SageMaker job cost: its BillableTimeInSeconds × instances × the catalog's
on-demand price (spot savings included in the billable time); a tuning job's is the sum of
its trials'."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mlx.catalog.tables import load_catalog
from tests.backends.contract import started
from tests.backends.cost import NODES, JobCost
from tests.backends.sagemaker.conftest import IMAGE, ROLE, SETTINGS
from tests.conftest import write
from tests.emulators.aws import AwsServer


class TestSageMakerCost(JobCost):
    provider = "sagemaker"
    instance_type = "ml.m5.xlarge"

    @pytest.fixture(autouse=True)
    def _servers(self, sm: AwsServer) -> None:
        self.aws = sm
        sm.execute_jobs()

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "sagemaker", "image": IMAGE, "sagemaker": dict(SETTINGS)}

    def describe(self, status: dict[str, Any]) -> dict[str, Any]:
        job: dict[str, Any] = self.aws.client("sagemaker").describe_training_job(
            TrainingJobName=status["native_id"]
        )
        return job

    def billed(self, status: dict[str, Any]) -> tuple[float, str]:
        return float(self.describe(status)["BillableTimeInSeconds"]), "billable"

    def test_a_spot_job_is_priced_by_its_shorter_billable_time(self, mlx: Any, spec: Path) -> None:
        # Managed spot training saved 70%: SageMaker bills 30% of the training time, at the
        # on-demand price (the saving is in the time, not in the rate).
        self.aws.sagemaker.spot_savings = 0.7
        result = mlx(
            "train", spec, "--set", "resources.spot=true", "--set", "hyperparameters.hold=3"
        )
        assert result.exit_code == 0, result.stderr
        status = json.loads(mlx("status", started(result.stderr), "--json").stdout)
        job = self.describe(status)
        assert job["EnableManagedSpotTraining"] is True
        assert job["BillableTimeInSeconds"] < job["TrainingTimeInSeconds"]
        cost = status["cost"]
        expected = job["BillableTimeInSeconds"] / 3600 * NODES * self.rate()
        assert (cost["basis"], cost["amount"]) == ("billable", pytest.approx(expected, abs=2e-6))

    def test_a_tuning_job_costs_the_sum_of_its_trials(self, mlx: Any, spec: Path) -> None:
        tune = {
            "engine": "native",  # SageMaker's own tuner, emulated with trials that really run
            "objective": {"metric": "loss", "goal": "minimize"},
            "algorithm": "random",
            "max_trials": 3,
            "parameters": {"x": {"type": "float", "min": 0.0, "max": 1.0}},
        }
        flags = ["--set", f"tune={json.dumps(tune)}", "--set", 'metrics=[{"name": "loss"}]']
        result = mlx("tune", spec, "--json", *flags)
        assert result.exit_code == 0, result.stderr
        # Before the submit: one trial's worst case (SageMaker's 1-day default limit) and
        # the budget's: 3 trials × 2 nodes × 24h × the price.
        said = result.stderr.splitlines()
        (line,) = [n for n, text in enumerate(said) if text.startswith("Instance: ")]
        assert said[line + 1].startswith("Started tuning job "), said
        budget = 3 * NODES * 24 * self.rate()
        assert said[line].startswith("Instance: ml.m5.xlarge: $"), said
        assert said[line].endswith(f"; tuning: 3 trials ≤ ${budget:,.2f}"), said
        summary = json.loads(result.stdout)
        status = json.loads(mlx("status", summary["id"], "--json").stdout)
        trials = [
            json.loads(mlx("status", summary["id"], "--trial", str(t["number"]), "--json").stdout)
            for t in status["trials"]
        ]
        amounts = [t["cost"]["amount"] for t in trials]
        assert len(amounts) == 3 and all(a > 0 for a in amounts), amounts
        cost = status["cost"]
        assert cost["amount"] == pytest.approx(sum(amounts), abs=1e-6)
        assert (cost["trials"], cost["partial"], cost["basis"]) == (3, False, "duration")
        assert f"Cost: ${cost['amount']:,.4f} (3 trials, duration, us-east-1 price of" in (
            " ".join(mlx("status", summary["id"]).stdout.split())
        )


def test_a_job_mlx_did_not_launch_is_priced_from_its_own_instance_type(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    write(tmp_path / "no-config.yaml", json.dumps({"sagemaker": SETTINGS}))
    sm.client("sagemaker").create_training_job(
        TrainingJobName="their-job",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://mlx-test-bucket/theirs/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 3, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    sm.set_training_job("their-job", status="InProgress", secondary="Training")
    time.sleep(1.1)
    sm.set_training_job("their-job", status="Completed")
    status = json.loads(mlx("status", "sagemaker:their-job", "--json").stdout)
    job = sm.client("sagemaker").describe_training_job(TrainingJobName="their-job")
    (row,) = load_catalog("sagemaker").find("ml.m5.large")
    expected = job["BillableTimeInSeconds"] / 3600 * 3 * row.price_per_hour
    assert status["cost"]["basis"] == "billable"
    assert status["cost"]["amount"] == pytest.approx(expected, abs=2e-6)
