"""Submitting, following, failing and cancelling SageMaker jobs through the real CLI."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from tests.backends.contract import started
from tests.backends.sagemaker.conftest import (
    BUCKET,
    SETTINGS,
    now_ms,
    put_node_lines,
    sagemaker_spec,
    wait_for_request,
)
from tests.conftest import write
from tests.emulators.aws import AwsServer


def two_node_lines(count: int) -> dict[int, list[str]]:
    return {node: [f"n{node} {i:03d}" for i in range(count)] for node in (0, 1)}


def submit(mlx: Any, spec: Path, *args: str) -> str:
    result = mlx("train", spec, "--detach", *args)
    assert result.exit_code == 0, result.stderr
    return started(result.stderr)


def test_local_input_and_code_are_uploaded_once_by_content(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    write(tmp_path / "project" / "data" / "train.csv", "x,y\n1,2\n")
    spec = sagemaker_spec(tmp_path, inputs={"train": "./data/train.csv"})
    first = submit(mlx, spec)
    staged = [c for c in sm.plan.calls if c.startswith(f"S3 PUT /{BUCKET}/mlx/inputs/")]
    uri = wait_for_request(sm, "CreateTrainingJob")["InputDataConfig"][2]["DataSource"]
    key = uri["S3DataSource"]["S3Uri"][len(f"s3://{BUCKET}/") :]
    assert f"S3 PUT /{BUCKET}/{key}train.csv" in staged
    assert f"S3 PUT /{BUCKET}/{key.rstrip('/')}.complete" in staged
    assert len(staged) == 4  # the input and its marker, the code file and its marker

    sm.plan.calls.clear()
    second = submit(mlx, spec)
    assert second != first
    assert [c for c in sm.plan.calls if "/mlx/inputs/" in c and c.startswith("S3 PUT")] == []
    assert sm.requests("CreateTrainingJob")[1]["InputDataConfig"][2]["DataSource"] == uri

    runtime = sm.client("s3").get_object(Bucket=BUCKET, Key=f"mlx/{second}/_mlx/runtime.json")
    config = json.loads(runtime["Body"].read())
    assert config["inputs"] == {"train": "/opt/ml/input/data/train/train.csv"}
    assert config["workdir"] == "/opt/ml/input/data/code"
    assert config["hyperparameters_in_argv"] is True


def tuning_spec(tmp_path: Path) -> Path:
    lr = {"type": "float", "min": 0.1, "max": 1}
    # SageMaker's own tuner (the image is the user's own: mlx's engine by default).
    tune = {"objective": {"metric": "acc"}, "engine": "native", "parameters": {"lr": lr}}
    return sagemaker_spec(tmp_path, metrics=[{"name": "acc"}], tune=tune)


def play(sm: AwsServer, lines: dict[int, list[str]], end: str = "Completed", **end_fields: Any):
    """In a thread: once the job exists, log ``lines``, then end it with ``end``."""

    def run() -> None:
        name = wait_for_request(sm, "CreateTrainingJob")["TrainingJobName"]
        sm.set_training_job(name, status="InProgress")
        put_node_lines(sm, name, lines, now_ms())
        sm.set_training_job(name, status=end, **end_fields)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_logs_of_two_nodes_merge_by_time_over_pages(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.log_page_size = 4
    spec = sagemaker_spec(tmp_path, resources={"nodes": 2})
    play(sm, two_node_lines(5))
    job = started(mlx("train", spec).stderr)

    sm.plan.calls.clear()
    result = mlx("logs", job)
    expected = [f"[node-{n}] n{n} {i:03d}" for i in range(5) for n in (0, 1)]
    assert result.stdout.splitlines() == expected
    assert sm.plan.count("FilterLogEvents") == 3  # 10 lines in pages of 4, one call each

    assert mlx("logs", job, "--node", "1").stdout.splitlines() == expected[1::2]
    assert mlx("logs", job, "--tail", "3").stdout.splitlines() == expected[-3:]
    assert mlx("logs", job, "--grep", "00[34]$").stdout.splitlines() == expected[6:]
    requests = sm.requests("FilterLogEvents")
    assert {r["logStreamNamePrefix"] for r in requests} >= {f"{job}/", f"{job}/algo-2-"}


def test_throttling_and_503s_on_describe_and_logs_are_retried(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.log_page_size = 3
    sm.plan.add("DescribeTrainingJob", "throttle", times=2)
    sm.plan.add("FilterLogEvents", "throttle", times=2)
    sm.plan.add("FilterLogEvents", "error", status=503, times=2)
    sm.plan.add("DescribeTrainingJob", "error", status=503, times=2)
    spec = sagemaker_spec(tmp_path, resources={"nodes": 2})
    play(sm, two_node_lines(6))
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stderr
    assert len([line for line in result.stdout.splitlines() if line.startswith("[node-")]) == 12
    assert all(f.fired == f.times for f in sm.plan.faults)


def test_failed_job_exits_1_with_its_failure_reason(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    reason = "AlgorithmError: ExecuteUserScriptError: exit code 2"
    play(sm, {0: ["Traceback (most recent call last):"]}, "Failed", failure_reason=reason)
    result = mlx("train", sagemaker_spec(tmp_path))
    assert result.exit_code == 1
    job = started(result.stderr)
    assert f"Error: job {job} failed: {reason}" in result.stderr
    assert "Traceback (most recent call last):" in result.stdout
    status = json.loads(mlx("status", job, "--json").stdout)
    assert (status["state"], status["message"]) == ("failed", reason)


def test_a_create_whose_answer_was_lost_is_found_by_name(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    # The service created the job, the connection dropped, botocore retried: ResourceInUse.
    sm.plan.add("CreateTrainingJob", "reset", after_bytes=0)
    job = submit(mlx, sagemaker_spec(tmp_path))
    assert len(sm.requests("CreateTrainingJob")) == 2
    assert sm.requests("DescribeTrainingJob")[0] == {"TrainingJobName": job}
    status = json.loads(mlx("status", job, "--json").stdout)
    assert (status["state"], status["message"]) == ("pending", "Starting")


def test_status_shows_secondary_status_and_final_metrics(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = submit(mlx, sagemaker_spec(tmp_path, metrics=[{"name": "val_loss"}]))
    sm.set_training_job(job, status="InProgress", secondary="Downloading")
    assert json.loads(mlx("status", job, "--json").stdout)["message"] == "Downloading"
    sm.set_training_job(job, status="InProgress")
    running = json.loads(mlx("status", job, "--json").stdout)
    assert (running["state"], running["message"]) == ("running", "Training")
    metrics = [{"MetricName": "val_loss", "Value": 0.25, "Timestamp": 0}]
    sm.set_training_job(job, status="Completed", final_metric_data_list=metrics)
    done = json.loads(mlx("status", job, "--json").stdout)
    assert (done["state"], done["metrics"]) == ("succeeded", {"val_loss": 0.25})


def test_cancel_a_tuning_job_stops_it_and_its_trials(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    spec = tuning_spec(tmp_path)
    result = mlx("tune", spec, "--detach")
    assert result.exit_code == 0, result.stderr
    job = started(result.stderr)
    name = wait_for_request(sm, "CreateHyperParameterTuningJob")["HyperParameterTuningJobName"]
    trial = sm.add_tuning_trial(name, hyperparameters={"lr": "0.5"})
    cancelled = mlx("cancel", job)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert f"Job {job} cancelled" in cancelled.stderr
    assert sm.requests("StopHyperParameterTuningJob") == [{"HyperParameterTuningJobName": name}]
    summary = json.loads(mlx("status", job, "--json").stdout)
    assert [(t["params"], t["state"]) for t in summary["trials"]] == [({"lr": 0.5}, "cancelled")]
    assert re.fullmatch(rf"{name}-001-[0-9a-f]{{8}}", trial)


def test_logs_of_a_tuning_job_point_at_its_trials(mlx: Any, sm: AwsServer, tmp_path: Path) -> None:
    spec = tuning_spec(tmp_path)
    job = started(mlx("tune", spec, "--detach").stderr)
    result = mlx("logs", job)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: {job} is a tuning job: its logs are its trials' logs",
        f"Hint: `mlx logs {job} --trial N` (or --trial best).",
    ]


def test_a_bucket_that_does_not_exist_is_one_line_and_the_failed_job_has_no_artifacts(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    spec = sagemaker_spec(tmp_path, sagemaker={**SETTINGS, "bucket": "no-such-bucket"})
    result = mlx("train", spec, "--detach")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    error, hint = result.stderr.splitlines()[-2:]
    assert error.startswith("Error: uploading ") and "s3://no-such-bucket/" in error
    assert hint == (
        "Hint: Check that `sagemaker.bucket` exists in the job's region and that you may "
        "write to it."
    )
    (job,) = json.loads(mlx("jobs", "--json").stdout)
    pulled = mlx("pull-artifacts", job["id"])
    assert pulled.exit_code == 1 and "Traceback" not in pulled.stderr
    assert pulled.stderr.startswith(f"Error: job {job['id']} was never submitted (")
