"""Issue #17 on SageMaker, through the real CLI and the AWS test server: `mlx jobs` fresh,
durations by SageMaker's own clock, failure hints that do not send the user to empty
logs, and failed submits that can be pruned."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests.backends.contract import started
from tests.backends.sagemaker.conftest import (
    SETTINGS,
    now_ms,
    put_node_lines,
    sagemaker_spec,
    wait_for_request,
)
from tests.emulators.aws import AwsServer

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)


def test_jobs_shows_a_job_that_ended_unobserved_with_sagemakers_duration(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    jobs = [started(mlx("train", sagemaker_spec(tmp_path), "--detach").stderr) for _ in "ab"]
    for n, job in enumerate(jobs):
        sm.set_training_job(job, status="InProgress")
        end = START + timedelta(seconds=15 + 60 * n)
        sm.set_training_job(
            job, status="Completed", training_start_time=START, training_end_time=end
        )
    sm.plan.calls.clear()
    listed = {j["id"]: j for j in json.loads(mlx("jobs", "--json").stdout)}
    assert {listed[job]["state"] for job in jobs} == {"succeeded"}
    assert listed[jobs[0]]["ended_at"] == "2026-11-20T09:00:15+00:00"
    # One listing for both; each ended job is described once, for its times and reason.
    assert sm.plan.count("ListTrainingJobs") == 1
    assert sm.plan.count("DescribeTrainingJob") == 2
    table = mlx("jobs").stdout.splitlines()
    durations = {line.split()[0]: line.split(maxsplit=5)[-1].strip() for line in table[1:]}
    assert durations == {jobs[0]: "15.0s", jobs[1]: "1m 15s"}
    status = mlx("status", jobs[1]).stdout
    assert "duration   1m 15s" in status
    assert sm.plan.count("DescribeTrainingJob") == 2  # ended: no more calls


def test_trials_that_ended_while_detached_keep_their_own_durations(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    lr = {"type": "float", "min": 0.1, "max": 1}
    tune = {"objective": {"metric": "acc"}, "engine": "native", "parameters": {"lr": lr}}
    spec = sagemaker_spec(tmp_path, metrics=[{"name": "acc"}], tune=tune)
    job = started(mlx("tune", spec, "--detach").stderr)
    name = wait_for_request(sm, "CreateHyperParameterTuningJob")["HyperParameterTuningJobName"]
    trial = sm.add_tuning_trial(name, hyperparameters={"lr": "0.5"})
    end = START + timedelta(seconds=4)
    sm.set_trial(
        trial, objective=0.9, status="Completed", training_start_time=START, training_end_time=end
    )
    table = mlx("status", job).stdout.splitlines()
    row = next(line for line in table if line.split()[:2] == ["1", "succeeded"])
    assert row.split()[2:4] == ["0.9", "4.0s"]  # SageMaker's 4 s, not when mlx looked
    # The tuning job itself ends unobserved: `mlx jobs` lists it ended, from one listing.
    sm.set_tuning_job(name, status="Completed")
    sm.plan.calls.clear()
    (listed,) = json.loads(mlx("jobs", "--json").stdout)
    assert (listed["id"], listed["state"]) == (job, "succeeded")
    assert sm.plan.count("ListHyperParameterTuningJobs") == 1


def end_when_created(sm: AwsServer, lines: list[str], **end: Any) -> threading.Thread:
    """In a thread: once the job exists, log ``lines`` (none: it never printed), end it."""

    def run() -> None:
        name = wait_for_request(sm, "CreateTrainingJob")["TrainingJobName"]
        sm.set_training_job(name, status="InProgress")
        if lines:
            put_node_lines(sm, name, {0: lines}, now_ms())
        sm.set_training_job(name, status="Failed", **end)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_job_that_never_printed_is_not_sent_to_its_logs(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    reason = "ClientError: Cannot pull the training image: manifest unknown"
    end_when_created(sm, [], failure_reason=reason)
    result = mlx("train", sagemaker_spec(tmp_path))
    assert result.exit_code == 1
    job = started(result.stderr)
    assert result.stderr.splitlines()[-2:] == [
        f"Error: job {job} failed: {reason}",
        f"Hint: It printed no log line; `mlx status {job}` shows what happened.",
    ]


def test_a_failed_job_with_lines_points_to_them_but_not_inside_logs_f(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    end_when_created(sm, ["epoch 1", "Traceback: boom"], failure_reason="AlgorithmError: boom")
    trained = mlx("train", sagemaker_spec(tmp_path))
    job = started(trained.stderr)
    assert trained.stderr.splitlines()[-2:] == [
        f"Error: job {job} failed: AlgorithmError: boom",
        f"Hint: See its logs with `mlx logs {job}`.",
    ]
    followed = mlx("logs", "-f", job)  # the lines were just shown: no pointer to them
    assert followed.exit_code == 1
    assert followed.stdout == "epoch 1\nTraceback: boom\n"
    assert followed.stderr.splitlines()[-1] == f"Error: job {job} failed: AlgorithmError: boom"


def test_failed_submits_can_be_pruned(mlx: Any, sm: AwsServer, tmp_path: Path) -> None:
    bad = sagemaker_spec(tmp_path, sagemaker={**SETTINGS, "bucket": "no-such-bucket"})
    assert mlx("train", bad, "--detach").exit_code == 1
    (failed,) = json.loads(mlx("jobs", "--json").stdout)
    kept = started(mlx("train", sagemaker_spec(tmp_path), "--detach").stderr)
    pruned = mlx("jobs", "--prune", "--json")
    assert pruned.exit_code == 0, pruned.stderr
    assert [(j["id"], j["provider"]) for j in json.loads(pruned.stdout)] == [
        (failed["id"], "sagemaker")
    ]
    assert [j["id"] for j in json.loads(mlx("jobs", "--json").stdout)] == [kept]
    again = mlx("jobs", "--prune")
    assert (again.stdout, again.stderr) == ("", "Removed 0 job(s) that were never submitted.\n")


def test_a_starting_job_shows_its_instance_console_and_each_state_change(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    def run() -> None:
        name = wait_for_request(sm, "CreateTrainingJob")["TrainingJobName"]
        sm.set_training_job(name, status="InProgress", secondary="Downloading")
        sm.set_training_job(name, status="InProgress", secondary="Training")
        wait_for_request(sm, "FilterLogEvents")  # following its logs now
        put_node_lines(sm, name, {0: ["epoch 1"]}, now_ms())
        sm.set_training_job(name, status="Completed")

    threading.Thread(target=run, daemon=True).start()
    spec = sagemaker_spec(tmp_path, resources={"instance_type": {"sagemaker": "ml.m5.xlarge"}})
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stderr
    job = started(result.stderr)
    lines = result.stderr.splitlines()
    # What it can cost is said before the submit (mlx.catalog.cost.print_estimate).
    assert lines[0].startswith("Instance: ml.m5.xlarge: $") and " on-demand; max $" in lines[0]
    assert lines[1].startswith(f"Started {job} on sagemaker")
    assert lines[2] == (
        "Console: https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1"
        f"#/jobs/{job}"
    )
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+"
    assert re.fullmatch(rf"{stamp} Starting - Launching requested ML instances", lines[3])
    assert re.fullmatch(rf"{stamp} Downloading - Downloading\.", lines[4])
    assert re.fullmatch(rf"{stamp} Training - Training\.", lines[5])
    assert lines[6].startswith(f"Job {job} succeeded after ")
    assert result.stdout == "epoch 1\n"
