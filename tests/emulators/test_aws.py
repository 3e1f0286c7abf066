"""The AWS test server, proven with real boto3 calls over HTTP."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError, ResponseStreamingError

from tests.emulators.aws import AwsServer

pytest_plugins = ["tests.emulators.aws_fixtures"]

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
DEFINITION: dict[str, Any] = {
    "AlgorithmSpecification": {
        "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "val_loss", "Regex": "val_loss=([-+0-9.eE]+)"}],
    },
    "RoleArn": ROLE,
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/mlx/"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


def training_request(name: str, **extra: Any) -> dict[str, Any]:
    return {"TrainingJobName": name, **DEFINITION, **extra}


def tuning_request(name: str) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "val_loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1"}
                ]
            },
        },
        "TrainingJobDefinition": {**DEFINITION, "StaticHyperParameters": {"epochs": "3"}},
    }


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response["Error"]["Code"]


# ---- training jobs


def test_training_job_starts_in_progress_and_follows_the_test(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    sm.create_training_job(**training_request("job-1"))

    job = sm.describe_training_job(TrainingJobName="job-1")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("InProgress", "Starting")
    assert "TrainingEndTime" not in job and "FinalMetricDataList" not in job
    assert job["AlgorithmSpecification"] == DEFINITION["AlgorithmSpecification"]

    aws.set_training_job("job-1", status="InProgress")
    job = sm.describe_training_job(TrainingJobName="job-1")
    assert job["SecondaryStatus"] == "Training" and "TrainingStartTime" in job

    aws.set_training_job("job-1", status="Completed")
    job = sm.describe_training_job(TrainingJobName="job-1")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Completed", "Completed")
    assert job["TrainingEndTime"] >= job["TrainingStartTime"]
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Training", "Completed"]
    listed = sm.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in listed] == ["job-1"]


def test_failed_job_shows_its_reason(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    sm.create_training_job(**training_request("job-1"))
    aws.set_training_job("job-1", status="Failed", failure_reason="AlgorithmError: exit 2")
    job = sm.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: exit 2"


def test_stop_training_job_goes_stopping_then_stopped(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    sm.create_training_job(**training_request("job-1"))
    sm.stop_training_job(TrainingJobName="job-1")
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "Stopping"
    job = sm.describe_training_job(TrainingJobName="job-1")
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")

    with pytest.raises(ClientError) as error:
        sm.stop_training_job(TrainingJobName="job-1")
    assert error_code(error) == "ValidationException"
    with pytest.raises(ClientError) as error:
        sm.stop_training_job(TrainingJobName="no-such-job")
    assert error_code(error) == "ResourceNotFound"


def test_stopping_job_waits_for_the_test_when_asked(aws: AwsServer) -> None:
    aws.sagemaker.stopping_describes = None
    sm = aws.client("sagemaker")
    sm.create_training_job(**training_request("job-1"))
    sm.stop_training_job(TrainingJobName="job-1")
    for _ in range(3):
        assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "Stopping"
    aws.set_training_job("job-1", status="Stopped")
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "Stopped"


def test_duplicate_training_job_name_is_resource_in_use(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    sm.create_training_job(**training_request("job-1", HyperParameters={"lr": "0.1"}))
    with pytest.raises(ClientError) as error:
        sm.create_training_job(**training_request("job-1", HyperParameters={"lr": "0.2"}))
    assert error_code(error) == "ResourceInUse"
    assert "Training job names must be unique" in error.value.response["Error"]["Message"]
    assert sm.describe_training_job(TrainingJobName="job-1")["HyperParameters"] == {"lr": "0.1"}


def test_list_training_jobs_filters_sorts_and_pages_like_sagemaker(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    for name in ("mlx-a", "other-b", "mlx-c", "mlx-d"):
        sm.create_training_job(**training_request(name))
    for n, name in enumerate(("mlx-a", "other-b", "mlx-c", "mlx-d")):
        aws.set_training_job(name, creation_time=datetime(2026, 1, 1, 0, n))
    aws.set_training_job("mlx-c", status="Completed")

    pages = sm.get_paginator("list_training_jobs").paginate(
        NameContains="mlx-", PaginationConfig={"PageSize": 2}
    )
    names = [[j["TrainingJobName"] for j in page["TrainingJobSummaries"]] for page in pages]
    assert names == [["mlx-d", "mlx-c"], ["mlx-a"]]  # newest first, full pages
    running = sm.list_training_jobs(StatusEquals="InProgress", SortBy="Name", SortOrder="Ascending")
    assert [j["TrainingJobName"] for j in running["TrainingJobSummaries"]] == [
        "mlx-a",
        "mlx-d",
        "other-b",
    ]
    after = sm.list_training_jobs(CreationTimeAfter=datetime(2026, 1, 1, 0, 2, tzinfo=timezone.utc))
    assert [j["TrainingJobName"] for j in after["TrainingJobSummaries"]] == ["mlx-d"]


def test_set_training_job_refuses_fields_describe_does_not_have(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    sm.create_training_job(**training_request("job-1"))
    aws.set_training_job("job-1", billable_time_in_seconds=42)
    assert sm.describe_training_job(TrainingJobName="job-1")["BillableTimeInSeconds"] == 42
    with pytest.raises(AttributeError, match="TraningEndTime"):
        aws.set_training_job("job-1", traning_end_time=datetime(2026, 1, 1))
    with pytest.raises(KeyError):
        aws.set_training_job("no-such-job", status="Completed")


def test_born_completed_jobs_can_be_kept(aws: AwsServer) -> None:
    aws.sagemaker.new_training_status = "Completed"
    sm = aws.client("sagemaker")
    sm.create_training_job(**training_request("job-1"))
    job = sm.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "Completed" and "TrainingEndTime" in job


# ---- tuning jobs


def test_tuning_job_lists_the_trials_the_test_set_up(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    sm.create_hyper_parameter_tuning_job(**tuning_request("tune-1"))
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert tuning["HyperParameterTuningJobStatus"] == "InProgress"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 0
    assert "BestTrainingJob" not in tuning

    a = aws.add_tuning_trial("tune-1", status="Completed", hyperparameters={"lr": "0.01"})
    b = aws.add_tuning_trial("tune-1", hyperparameters={"lr": "0.05"})
    c = aws.add_tuning_trial("tune-1", hyperparameters={"lr": "0.001"})
    aws.set_trial(a, objective=0.5)
    aws.set_trial(c, objective=0.2, status="Completed")
    assert a.startswith("tune-1-001-") and c.startswith("tune-1-003-")

    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName="tune-1", PaginationConfig={"PageSize": 2}
    )
    rows = [row for page in pages for row in page["TrainingJobSummaries"]]
    assert [r["TrainingJobName"] for r in rows] == [a, b, c]
    assert [r["TrainingJobStatus"] for r in rows] == ["Completed", "InProgress", "Completed"]
    assert rows[1]["TunedHyperParameters"] == {"lr": "0.05"}
    assert rows[2]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "val_loss",
        "Value": 0.2,
    }
    assert [r["ObjectiveStatus"] for r in rows] == ["Succeeded", "Pending", "Succeeded"]

    running = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-1", StatusEquals="InProgress"
    )["TrainingJobSummaries"]
    assert [r["TrainingJobName"] for r in running] == [b]

    trial = sm.describe_training_job(TrainingJobName=c)
    assert trial["TuningJobArn"] == tuning["HyperParameterTuningJobArn"]
    assert trial["HyperParameters"] == {"epochs": "3", "lr": "0.001"}
    assert trial["FinalMetricDataList"][0]["Value"] == 0.2

    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
    assert tuning["TrainingJobStatusCounters"]["InProgress"] == 1
    assert tuning["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 1, "Failed": 0}
    assert tuning["BestTrainingJob"]["TrainingJobName"] == c


def test_trials_follow_a_tuning_job_with_several_definitions(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    request = tuning_request("tune-1")
    definition = request.pop("TrainingJobDefinition")
    request["TrainingJobDefinitions"] = [{**definition, "DefinitionName": "cpu"}]
    request["HyperParameterTuningJobConfig"].pop("HyperParameterTuningJobObjective")
    request["HyperParameterTuningJobConfig"].pop("ParameterRanges")
    definition_objective = {"Type": "Maximize", "MetricName": "acc"}
    request["TrainingJobDefinitions"][0]["TuningObjective"] = definition_objective
    request["TrainingJobDefinitions"][0]["HyperParameterRanges"] = {}
    sm.create_hyper_parameter_tuning_job(**request)
    trial = aws.add_tuning_trial("tune-1", hyperparameters={"lr": "0.1"})
    job = sm.describe_training_job(TrainingJobName=trial)
    assert job["HyperParameters"] == {"epochs": "3", "lr": "0.1"}
    assert job["AlgorithmSpecification"] == DEFINITION["AlgorithmSpecification"]
    aws.set_trial(trial, objective=0.9, status="Completed")
    rows = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-1"
    )
    metric = rows["TrainingJobSummaries"][0]["FinalHyperParameterTuningJobObjectiveMetric"]
    assert metric == {"Type": "Maximize", "MetricName": "acc", "Value": 0.9}
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert tuning["BestTrainingJob"]["TrainingJobName"] == trial


def test_trials_of_an_unknown_tuning_job_are_resource_not_found(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    with pytest.raises(ClientError) as error:
        sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope")
    assert error_code(error) == "ResourceNotFound"
    assert aws.plan.count("ListTrainingJobsForHyperParameterTuningJob") == 1


def test_stop_tuning_job_stops_its_running_trials(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    sm.create_hyper_parameter_tuning_job(**tuning_request("tune-1"))
    done = aws.add_tuning_trial("tune-1", status="Completed", objective=0.3)
    running = aws.add_tuning_trial("tune-1")
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")

    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert tuning["HyperParameterTuningJobStatus"] == "Stopping"
    assert sm.describe_training_job(TrainingJobName=running)["TrainingJobStatus"] == "Stopping"
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert tuning["HyperParameterTuningJobStatus"] == "Stopped"
    assert sm.describe_training_job(TrainingJobName=running)["TrainingJobStatus"] == "Stopped"
    assert sm.describe_training_job(TrainingJobName=done)["TrainingJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Stopped"] == 1


# ---- faults


def test_throttle_is_retried_by_botocore_standard_mode(aws: AwsServer) -> None:
    sm = boto3.client("sagemaker")  # the aws fixture's environment: standard mode, 3 attempts
    sm.create_training_job(**training_request("job-1"))
    aws.plan.add("DescribeTrainingJob", "throttle", times=2)
    started = time.monotonic()
    job = sm.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobName"] == "job-1"
    assert job["ResponseMetadata"]["RetryAttempts"] == 2
    assert aws.plan.count("DescribeTrainingJob") == 3
    assert time.monotonic() - started < 1  # the fixture shortens botocore's backoff


def test_503_error_is_retried_then_given_up(aws: AwsServer) -> None:
    sm = aws.client("sagemaker", attempts=2)
    sm.create_training_job(**training_request("job-1"))
    aws.plan.add("DescribeTrainingJob", "error")
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobName"] == "job-1"
    assert aws.plan.count("DescribeTrainingJob") == 2

    aws.plan.add("DescribeTrainingJob", "error", status=500, times=5)
    with pytest.raises(ClientError) as error:
        sm.describe_training_job(TrainingJobName="job-1")
    assert error_code(error) == "ServiceUnavailable"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert aws.plan.count("DescribeTrainingJob") == 4  # 2 + 2 attempts


def test_slow_answer_times_out_and_is_retried(aws: AwsServer) -> None:
    # The first create loads the service model the server validates against: not timed.
    aws.client("sagemaker").create_training_job(**training_request("job-1"))
    sm = aws.client("sagemaker", attempts=1, read_timeout=0.2)
    aws.plan.add("DescribeTrainingJob", "slow", delay=0.5)
    with pytest.raises(ReadTimeoutError):
        sm.describe_training_job(TrainingJobName="job-1")
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobName"] == "job-1"


def test_reset_cuts_an_s3_download_mid_body(aws: AwsServer) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="bucket")
    data = bytes(range(256)) * 4096  # 1 MiB
    s3.put_object(Bucket="bucket", Key="mlx/job/model.bin", Body=data)
    aws.plan.add("S3 GET /bucket/mlx/job/model.bin", "reset", after_bytes=1000)

    response = s3.get_object(Bucket="bucket", Key="mlx/job/model.bin")
    assert response["ContentLength"] == len(data)  # the headers arrived whole
    with pytest.raises(ResponseStreamingError, match=r"IncompleteRead\(1000 bytes read"):
        response["Body"].read()
    assert s3.get_object(Bucket="bucket", Key="mlx/job/model.bin")["Body"].read() == data
    assert aws.plan.count("S3 GET /bucket/mlx/job/model.bin") == 2


def test_s3_throttle_is_slow_down_and_retried(aws: AwsServer) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="bucket")
    aws.plan.add("S3 PUT /bucket/données/a b.txt", "throttle")
    s3.put_object(Bucket="bucket", Key="données/a b.txt", Body=b"hello")
    assert aws.plan.count("S3 PUT /bucket/données/a b.txt") == 2
    aws.plan.add("S3 GET /bucket/*", "throttle", times=9)
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket="bucket", Key="données/a b.txt")
    assert error_code(error) == "SlowDown"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_a_reset_create_is_retried_into_resource_in_use(aws: AwsServer) -> None:
    # The service created the job, the answer was lost, botocore retried: callers of
    # CreateTrainingJob must expect ResourceInUse for a job they did create.
    sm = aws.client("sagemaker")
    aws.plan.add("CreateTrainingJob", "reset", after_bytes=0)
    with pytest.raises(ClientError) as error:
        sm.create_training_job(**training_request("job-1"))
    assert error_code(error) == "ResourceInUse"
    assert len(aws.requests("CreateTrainingJob")) == 2
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "InProgress"


def test_unimplemented_moto_action_fails_at_once(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    with pytest.raises(ClientError) as error:
        sm.describe_algorithm(AlgorithmName="x")
    assert error_code(error) == "NotImplemented"
    assert aws.plan.count("DescribeAlgorithm") == 1


# ---- logs


def test_filter_log_events_by_prefix_interleaves_streams_across_pages(aws: AwsServer) -> None:
    group = "/aws/sagemaker/TrainingJobs"
    algo1 = [(1000 + 10 * i, f"algo-1 line {i}") for i in range(12)]
    algo2 = [(1005 + 10 * i, f"algo-2 line {i}") for i in range(12)] + [(1110, "algo-2 tie")]
    aws.put_log_lines(group, "job-a/algo-1-1700000000", algo1)
    aws.put_log_lines(group, "job-a/algo-2-1700000000", algo2)
    aws.put_log_lines(group, "job-ab/algo-1-1700000000", [(1001, "other job")])
    aws.log_page_size = 5
    logs = aws.client("logs")

    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.filter_log_events(
            logGroupName=group, logStreamNamePrefix="job-a/", startTime=1000, **kwargs
        )
        pages.append(page["events"])
        token = page.get("nextToken")
        if not token:
            break
    events = [e for page in pages for e in page]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 5]
    expected = sorted(algo1 + algo2, key=lambda e: e[0])  # stable: algo-1's 1110 first
    assert [(e["timestamp"], e["message"]) for e in events] == expected
    assert {e["logStreamName"] for e in events[:2]} == {
        "job-a/algo-1-1700000000",
        "job-a/algo-2-1700000000",
    }
    assert len({e["eventId"] for e in events}) == len(events)


def test_filter_log_events_honours_time_limit_and_names(aws: AwsServer) -> None:
    group = "/aws/sagemaker/TrainingJobs"
    aws.put_log_lines(group, "job/algo-1", [(t, f"a{t}") for t in range(0, 100, 10)])
    aws.put_log_lines(group, "job/algo-2", [(t, f"b{t}") for t in range(5, 100, 10)])
    logs = aws.client("logs")

    page = logs.filter_log_events(logGroupName=group, startTime=0, endTime=20, limit=3)
    assert [e["message"] for e in page["events"]] == ["a0", "b5", "a10"]
    rest = logs.filter_log_events(
        logGroupName=group, startTime=0, endTime=20, nextToken=page["nextToken"]
    )
    assert [e["message"] for e in rest["events"]] == ["b15", "a20"]
    assert "nextToken" not in rest

    only = logs.filter_log_events(logGroupName=group, logStreamNames=["job/algo-2"], limit=2)
    assert [e["message"] for e in only["events"]] == ["b5", "b15"]
    with pytest.raises(ClientError) as error:
        logs.filter_log_events(logGroupName="/missing")
    assert error_code(error) == "ResourceNotFoundException"


# ---- recording


def test_requests_are_recorded_with_their_exact_bodies(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    request = training_request(
        "job-1",
        HyperParameters={"learning-rate": "0.01", "layers": "[64, 32]"},
        Environment={"LOG_LEVEL": "info"},
        Tags=[{"Key": "mlx-job", "Value": "abc123"}],
    )
    aws.plan.add("CreateTrainingJob", "throttle")
    sm.create_training_job(**request)
    sm.describe_training_job(TrainingJobName="job-1")

    assert aws.requests("CreateTrainingJob") == [request]  # the throttled attempt: not served
    assert aws.plan.count("CreateTrainingJob") == 2
    # Under load, urllib3 may resend a request on a pooled connection the server had just
    # closed (seen once in a full CI run): the body, not the count, is what is recorded.
    describes = aws.requests("DescribeTrainingJob")
    assert describes and all(body == {"TrainingJobName": "job-1"} for body in describes)
    assert aws.requests("StopTrainingJob") == []


def test_reset_forgets_everything(aws: AwsServer) -> None:
    sm = aws.client("sagemaker")
    sm.create_training_job(**training_request("job-1"))
    aws.plan.add("DescribeTrainingJob", "error", times=99)
    aws.log_page_size = 1
    aws.reset()
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    assert aws.requests("CreateTrainingJob") == [] and aws.plan.calls == ["ListTrainingJobs"]
    assert aws.log_page_size == 10_000


def test_environment_points_plain_boto3_at_the_server(aws: AwsServer) -> None:
    import os

    assert os.environ["AWS_ENDPOINT_URL"] == aws.url
    session = boto3.session.Session()
    assert session.get_credentials().access_key == "testing"
    assert session.region_name == "us-east-1"
    s3 = boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 1}))
    s3.create_bucket(Bucket="bucket")
    assert aws.plan.calls == ["S3 PUT /bucket"]
