"""``mlx jobs -p sagemaker --remote``: the region's training jobs (ListTrainingJobs), newest
first and paged, mlx's marked; and ``sagemaker:<name>`` picks any of them up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.backends.sagemaker.conftest import IMAGE, ROLE, SETTINGS, sagemaker_spec
from tests.conftest import write
from tests.emulators.aws import AwsServer


def create_their_job(aws: AwsServer, name: str) -> None:
    aws.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://mlx-test-bucket/theirs/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )


def test_remote_lists_the_regions_jobs_newest_first_with_mlx_jobs_marked(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    write(tmp_path / "no-config.yaml", json.dumps({"sagemaker": SETTINGS}))
    create_their_job(sm, "their-first")
    mine = mlx("train", sagemaker_spec(tmp_path), "--detach", "--json")
    assert mine.exit_code == 0, mine.stderr
    mlx_id = json.loads(mine.stdout)["id"]
    create_their_job(sm, "their-second")

    listed = mlx("jobs", "-p", "sagemaker", "--remote", "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["native_id"] for r in rows] == ["their-second", mlx_id, "their-first"]
    assert [r["mlx_id"] for r in rows] == [None, mlx_id, None]
    assert rows[0]["ref"] == "sagemaker:their-second"

    two = mlx("jobs", "-p", "sagemaker", "--remote", "--limit", "2", "--json")
    assert [r["native_id"] for r in json.loads(two.stdout)] == ["their-second", mlx_id]
    assert mlx("status", "sagemaker:their-second").exit_code == 0  # and picked up


def test_remote_needs_a_cloud(mlx: Any) -> None:
    local = mlx("jobs", "-p", "local", "--remote")
    assert local.exit_code == 1
    assert "Error: local has no list of jobs of its own" in local.stderr
    none = mlx("jobs", "--remote")
    assert none.exit_code == 2
    assert "--remote lists one cloud's jobs: give --provider" in none.stderr
