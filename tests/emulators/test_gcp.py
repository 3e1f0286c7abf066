"""The Google Cloud test servers, proven with the real client libraries over real HTTP/gRPC."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import google_crc32c
import grpc
import pytest
import requests
from google.api_core import exceptions
from google.api_core.retry import Retry, if_exception_type
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1, storage
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.logging_service_v2.transports import (
    LoggingServiceV2GrpcTransport,
)
from google.cloud.logging_v2.types import TailLogEntriesRequest

from tests.emulators.cloud_logging import LoggingServer
from tests.emulators.gcs import GcsEmulator, query_of
from tests.emulators.vertex import PROTO_SINCE, VertexServer, proto_version

pytest_plugins = ("tests.emulators.gcp_fixtures",)

PROJECT, LOCATION = "test-project", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
# JobService methods have no default retry; mlx passes one like this (fast here).
FAST_RETRY = Retry(
    predicate=if_exception_type(exceptions.ServiceUnavailable, exceptions.TooManyRequests),
    initial=0.01,
    maximum=0.05,
    multiplier=2,
    timeout=5,
)


def job_client(vertex: VertexServer) -> aiplatform_v1.JobServiceClient:
    return aiplatform_v1.JobServiceClient(
        transport="rest",
        client_options={"api_endpoint": vertex.url},
        credentials=AnonymousCredentials(),
    )


def custom_job(name: str, **labels: str) -> aiplatform_v1.CustomJob:
    pool = {
        "machine_spec": {"machine_type": "n1-standard-4"},
        "replica_count": 1,
        "container_spec": {"image_uri": "python:3.11-slim", "args": ["--lr", "0.1"]},
    }
    return aiplatform_v1.CustomJob(
        display_name=name, labels=labels, job_spec={"worker_pool_specs": [pool]}
    )


def job_id(job: aiplatform_v1.CustomJob | aiplatform_v1.HyperparameterTuningJob) -> str:
    return job.name.rsplit("/", 1)[1]


# -- Vertex AI JobService --------------------------------------------------------------


def test_custom_job_create_get_list_cancel(vertex: VertexServer) -> None:
    client = job_client(vertex)
    first = client.create_custom_job(parent=PARENT, custom_job=custom_job("a", team="x"))
    second = client.create_custom_job(parent=PARENT, custom_job=custom_job("b", team="y"))

    # Vertex names jobs with the project number, and sets the output-only fields.
    assert first.name == f"projects/123456789012/locations/{LOCATION}/customJobs/{job_id(first)}"
    assert first.state == aiplatform_v1.JobState.JOB_STATE_PENDING
    assert first.create_time.year >= 2025
    sent = vertex.requests("CreateCustomJob")[0]
    assert sent["path"] == f"/v1/{PARENT}/customJobs"
    assert sent["query"] == {"$alt": "json;enum-encoding=int"}
    assert sent["body"]["jobSpec"]["workerPoolSpecs"][0]["containerSpec"] == {
        "imageUri": "python:3.11-slim",
        "args": ["--lr", "0.1"],
    }
    assert sent["body"]["labels"] == {"team": "x"}

    vertex.set_state(job_id(second), "JOB_STATE_RUNNING")
    by_label = client.list_custom_jobs(request={"parent": PARENT, "filter": 'labels.team="x"'})
    assert [j.display_name for j in by_label] == ["a"]
    running = 'state=JOB_STATE_RUNNING AND display_name="b"'
    assert [
        j.name for j in client.list_custom_jobs(request={"parent": PARENT, "filter": running})
    ] == [second.name]

    client.cancel_custom_job(name=second.name)
    states = [client.get_custom_job(name=second.name).state.name for _ in range(2)]
    assert states == ["JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"]
    assert client.get_custom_job(name=first.name).state.name == "JOB_STATE_PENDING"
    # FAILED_PRECONDITION is HTTP 400: over REST it arrives as BadRequest, like INVALID_ARGUMENT.
    with pytest.raises(exceptions.BadRequest, match="Cannot cancel"):
        client.cancel_custom_job(name=second.name)  # already finished


def test_unknown_field_is_rejected_with_400(vertex: VertexServer) -> None:
    body = json.loads(aiplatform_v1.CustomJob.to_json(custom_job("a")))
    body["jobSpec"]["workerPoolSpecs"][0]["replicaCnt"] = 2  # a typo Vertex would reject
    request = urllib.request.Request(
        f"{vertex.url}/v1/{PARENT}/customJobs",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "replicaCnt" in error["message"]
    assert vertex.jobs == {}


def test_invalid_job_is_rejected_through_the_client(vertex: VertexServer) -> None:
    client = job_client(vertex)
    # Over REST every 400 is a BadRequest; the field is in the google.rpc.BadRequest details.
    with pytest.raises(exceptions.BadRequest, match="invalid label") as caught:
        client.create_custom_job(parent=PARENT, custom_job=custom_job("a", Team="Upper"))
    assert caught.value.details[0]["fieldViolations"][0]["field"] == "labels.Team"
    no_pools = aiplatform_v1.CustomJob(display_name="a")
    with pytest.raises(exceptions.BadRequest, match="worker_pool_specs must be set"):
        client.create_custom_job(parent=PARENT, custom_job=no_pools)
    with pytest.raises(exceptions.BadRequest, match="unsupported filter field"):
        list(client.list_custom_jobs(request={"parent": PARENT, "filter": 'name="x"'}))


def test_state_driven_running_succeeded_and_failed(vertex: VertexServer) -> None:
    client = job_client(vertex)
    job = client.create_custom_job(parent=PARENT, custom_job=custom_job("a"))
    vertex.set_state(job_id(job), "JOB_STATE_RUNNING")
    running = client.get_custom_job(name=job.name)
    assert running.state.name == "JOB_STATE_RUNNING"
    assert running.start_time >= running.create_time
    vertex.set_state(job_id(job), "JOB_STATE_SUCCEEDED")
    done = client.get_custom_job(name=job.name)
    assert (done.state.name, done.end_time >= done.start_time) == ("JOB_STATE_SUCCEEDED", True)

    other = client.create_custom_job(parent=PARENT, custom_job=custom_job("b"))
    vertex.set_state(job_id(other), "JOB_STATE_FAILED", error={"code": 13, "message": "OOM"})
    failed = client.get_custom_job(name=other.name)
    assert (failed.state.name, failed.error.code, failed.error.message) == (
        "JOB_STATE_FAILED",
        13,
        "OOM",
    )


def test_auto_advance_moves_one_state_per_get(vertex: VertexServer) -> None:
    client = job_client(vertex)
    vertex.auto_advance = True
    job = client.create_custom_job(parent=PARENT, custom_job=custom_job("a"))
    states = [client.get_custom_job(name=job.name).state.name for _ in range(4)]
    assert states == [
        "JOB_STATE_PENDING",
        "JOB_STATE_RUNNING",
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_SUCCEEDED",
    ]


def test_list_pages_with_page_size(vertex: VertexServer) -> None:
    client = job_client(vertex)
    created = [
        client.create_custom_job(parent=PARENT, custom_job=custom_job(f"j{i}")) for i in range(5)
    ]
    pager = client.list_custom_jobs(request={"parent": PARENT, "page_size": 2})
    assert [len(page.custom_jobs) for page in pager.pages] == [2, 2, 1]
    listed = [j.name for j in client.list_custom_jobs(request={"parent": PARENT, "page_size": 2})]
    assert listed == [j.name for j in reversed(created)]  # newest first
    tokens = [r["query"].get("pageToken") for r in vertex.requests("ListCustomJobs")]
    assert tokens[:3] == [None, "2", "4"]


def test_throttle_and_503_are_retried_with_an_explicit_retry(vertex: VertexServer) -> None:
    client = job_client(vertex)
    job = client.create_custom_job(parent=PARENT, custom_job=custom_job("a"))
    vertex.plan.add("GetCustomJob", "throttle")
    vertex.plan.add("GetCustomJob", "error", status=503)
    assert client.get_custom_job(name=job.name, retry=FAST_RETRY).display_name == "a"
    assert vertex.plan.count("GetCustomJob") == 3
    assert [r["fault"] for r in vertex.requests("GetCustomJob")] == ["throttle", "error", None]

    vertex.plan.add("GetCustomJob", "throttle")
    with pytest.raises(exceptions.TooManyRequests):
        client.get_custom_job(name=job.name)  # no default retry on JobService


def test_reset_needs_connection_errors_in_the_retry_predicate(vertex: VertexServer) -> None:
    client = job_client(vertex)
    job = client.create_custom_job(parent=PARENT, custom_job=custom_job("a"))
    vertex.plan.add("GetCustomJob", "reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.get_custom_job(name=job.name, retry=FAST_RETRY)
    vertex.plan.add("GetCustomJob", "reset")
    retry = FAST_RETRY.with_predicate(
        if_exception_type(exceptions.ServiceUnavailable, requests.exceptions.ConnectionError)
    )
    assert client.get_custom_job(name=job.name, retry=retry).name == job.name
    assert vertex.plan.count("GetCustomJob") == 3


def tuning_job() -> aiplatform_v1.HyperparameterTuningJob:
    lr = {
        "parameter_id": "lr",
        "double_value_spec": {"min_value": 1e-5, "max_value": 1e-2},
        "scale_type": "UNIT_LOG_SCALE",
    }
    return aiplatform_v1.HyperparameterTuningJob(
        display_name="hpt",
        max_trial_count=4,
        parallel_trial_count=2,
        study_spec={"metrics": [{"metric_id": "val_loss", "goal": "MINIMIZE"}], "parameters": [lr]},
        trial_job_spec=custom_job("t").job_spec,
    )


def test_hyperparameter_tuning_job_with_trials(vertex: VertexServer) -> None:
    client = job_client(vertex)
    tuning = tuning_job()
    created = client.create_hyperparameter_tuning_job(
        parent=PARENT, hyperparameter_tuning_job=tuning
    )
    assert vertex.requests("CreateHyperparameterTuningJob")[0]["body"]["studySpec"]["metrics"] == [
        {"metricId": "val_loss", "goal": 2}  # enums travel as numbers
    ]
    trial = {
        "id": "1",
        "state": "SUCCEEDED",
        "parameters": [{"parameterId": "lr", "value": 0.001}],
        "finalMeasurement": {
            "stepCount": "10",
            "metrics": [{"metricId": "val_loss", "value": 0.25}],
        },
    }
    vertex.set_trials(job_id(created), [trial])
    got = client.get_hyperparameter_tuning_job(name=created.name)
    assert [(t.id, t.final_measurement.metrics[0].value) for t in got.trials] == [("1", 0.25)]
    assert got.trials[0].parameters[0].value == 0.001
    client.cancel_hyperparameter_tuning_job(name=created.name)
    assert (
        client.get_hyperparameter_tuning_job(name=created.name).state.name == "JOB_STATE_CANCELLING"
    )
    listed = client.list_hyperparameter_tuning_jobs(request={"parent": PARENT, "filter": "state:*"})
    assert [j.name for j in listed] == [created.name]
    assert list(client.list_custom_jobs(parent=PARENT)) == []


def test_a_trial_container_gets_its_values_appended_to_the_args(vertex: VertexServer) -> None:
    created = job_client(vertex).create_hyperparameter_tuning_job(
        parent=PARENT, hyperparameter_tuning_job=tuning_job()
    )
    command, args = vertex.trial_container(job_id(created), {"lr": "0.003"})
    assert (command, args) == ([], ["--lr", "0.1", "--lr=0.003"])


def with_disk(machine_type: str, disk_type: str) -> aiplatform_v1.CustomJob:
    job = custom_job("disk")
    pool = job.job_spec.worker_pool_specs[0]
    pool.machine_spec.machine_type = machine_type
    pool.disk_spec.boot_disk_type = disk_type
    return job


@pytest.mark.parametrize(
    ("machine_type", "disk_type", "refusal"),
    [
        ("a3-ultragpu-8g", "pd-ssd", "supports only Hyperdisk boot disks, not pd-ssd"),
        ("a4-highgpu-8g", "pd-standard", "supports only Hyperdisk boot disks"),
        ("n1-standard-4", "hyperdisk-balanced", "does not support hyperdisk-balanced"),
        ("e2-standard-4", "hyperdisk-balanced", "does not support hyperdisk-balanced"),
        ("n1-standard-4", "pd-balanced", "is not one of"),  # not a Vertex boot disk type
        ("a3-ultragpu-8g", "hyperdisk-balanced", None),
        ("a3-ultragpu-8g", "", None),  # the family's default
        ("n1-standard-4", "pd-ssd", None),
        ("a2-highgpu-1g", "pd-standard", None),
    ],
)
def test_boot_disk_type_must_suit_the_machine_family(
    vertex: VertexServer, machine_type: str, disk_type: str, refusal: str | None
) -> None:
    client = job_client(vertex)
    job = with_disk(machine_type, disk_type)
    if refusal is None:
        client.create_custom_job(parent=PARENT, custom_job=job)
        return
    with pytest.raises(exceptions.BadRequest, match=refusal) as caught:
        client.create_custom_job(parent=PARENT, custom_job=job)
    field = "job_spec.worker_pool_specs[0].disk_spec.boot_disk_type"
    assert caught.value.details[0]["fieldViolations"][0]["field"] == field


def release(text: str) -> tuple[int, ...]:
    """``1.93`` -> (1, 93, 0): comparable release numbers."""
    parts = [int(part) for part in text.split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def test_the_lowest_allowed_aiplatform_has_every_field_mlx_sends() -> None:
    """pyproject's minimum (and the pin in tests/constraints-lowest.txt) is at least the
    release each field of ``PROTO_SINCE`` appeared in; the installed proto has them all."""
    root = Path(__file__).resolve().parents[2]
    pyproject = (root / "pyproject.toml").read_text()
    minimum = re.search(r'"google-cloud-aiplatform>=([0-9.]+)"', pyproject)
    pinned = re.search(
        r"^google-cloud-aiplatform==([0-9.]+)$",
        (root / "tests" / "constraints-lowest.txt").read_text(),
        re.MULTILINE,
    )
    assert minimum and pinned
    newest = max(PROTO_SINCE.values(), key=release)
    assert release(minimum.group(1)) >= release(newest), PROTO_SINCE
    assert release(pinned.group(1)) == release(minimum.group(1))
    assert release(proto_version()) >= release(newest)
    for path in PROTO_SINCE:  # each names a field, nested enum or enum value that exists
        message, *rest = path.split(".")
        found: Any = getattr(aiplatform_v1, message)
        for name in rest:
            fields = found.meta.fields if hasattr(found, "meta") else {}
            found = fields[name] if name in fields else getattr(found, name)


# -- Cloud Logging ---------------------------------------------------------------------


def logging_client(server: LoggingServer) -> LoggingServiceV2Client:
    channel = grpc.insecure_channel(server.address)
    return LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=channel))


def two_replica_entries(job: str, other: str) -> list[dict]:
    """Interleaved lines from workerpool0-0 and workerpool1-0, appended out of time order."""
    entries = []
    for i in (3, 0, 4, 1, 5, 2):
        task = f"workerpool{i % 2}-0"
        entries.append(
            dict(
                text=f"{task} step {i}",
                job_id=job,
                task_name=task,
                timestamp=T0 + timedelta(seconds=i),
            )
        )
    entries.append(dict(text="not ours", job_id=other, timestamp=T0 + timedelta(seconds=2.5)))
    entries.append(dict(text="too early", job_id=job, timestamp=T0 - timedelta(hours=1)))
    return entries


def test_list_log_entries_filters_orders_and_pages(cloud_logging: LoggingServer) -> None:
    cloud_logging.append(two_replica_entries("111", "222"))
    client = logging_client(cloud_logging)
    flt = (
        f'resource.type="ml_job" AND resource.labels.job_id="111" AND timestamp>="{T0.isoformat()}"'
    )
    request = {"resource_names": [f"projects/{PROJECT}"], "filter": flt, "page_size": 4}
    texts = [e.text_payload for e in client.list_log_entries(request=request)]
    assert texts == [f"workerpool{i % 2}-0 step {i}" for i in range(6)]
    pages = cloud_logging.requests("ListLogEntries")
    assert [bool(r["page_token"]) for r in pages] == [False, True]
    assert cloud_logging.filters == [flt, flt]

    newest_first = dict(
        request,
        order_by="timestamp desc",
        filter=flt + ' AND resource.labels.task_name="workerpool1-0"',
    )
    texts = [e.text_payload for e in client.list_log_entries(request=newest_first)]
    assert texts == ["workerpool1-0 step 5", "workerpool1-0 step 3", "workerpool1-0 step 1"]
    regex = dict(request, filter=flt + ' AND textPayload=~"step [24]$" AND NOT textPayload:"POOL1"')
    assert [e.text_payload for e in client.list_log_entries(request=regex)] == [
        "workerpool0-0 step 2",
        "workerpool0-0 step 4",
    ]


def test_list_log_entries_rejects_bad_filters_and_maps_faults(cloud_logging: LoggingServer) -> None:
    client = logging_client(cloud_logging)
    request = {"resource_names": [f"projects/{PROJECT}"], "filter": 'jsonPayload.x="1"'}
    with pytest.raises(exceptions.InvalidArgument, match="does not filter on"):
        list(client.list_log_entries(request=request))
    cloud_logging.plan.add("ListLogEntries", "throttle")
    with pytest.raises(exceptions.ResourceExhausted):
        list(client.list_log_entries(request={"resource_names": [f"projects/{PROJECT}"]}))
    # UNAVAILABLE is in ListLogEntries' default retry (first backoff 0.1 s).
    cloud_logging.plan.add("ListLogEntries", "error", status=503)
    cloud_logging.append([dict(text="hi", job_id="1")])
    assert [
        e.text_payload
        for e in client.list_log_entries(request={"resource_names": [f"projects/{PROJECT}"]})
    ] == ["hi"]
    assert cloud_logging.plan.count("ListLogEntries") == 4


def test_tail_log_entries_streams_entries_appended_later(cloud_logging: LoggingServer) -> None:
    cloud_logging.append([dict(text="before the tail", job_id="111")])
    client = logging_client(cloud_logging)
    tail = TailLogEntriesRequest(
        resource_names=[f"projects/{PROJECT}"], filter='resource.labels.job_id="111"'
    )

    def append_later() -> None:
        assert cloud_logging.wait_for("TailLogEntries")
        cloud_logging.append([dict(text="one", job_id="111"), dict(text="other job", job_id="222")])
        time.sleep(0.1)
        cloud_logging.append([dict(text="two", job_id="111", task_name="workerpool1-0")])

    # tail_log_entries returns only once the first response arrives (api_core prefetches
    # it), so whatever appends must already be running.
    threading.Thread(target=append_later, daemon=True).start()
    stream = client.tail_log_entries(requests=iter([tail]))
    got: list[str] = []
    for response in stream:
        got += [e.text_payload for e in response.entries]
        if len(got) >= 2:
            break
    stream.cancel()
    assert got == ["one", "two"]
    assert cloud_logging.requests("TailLogEntries")[0]["filter"] == 'resource.labels.job_id="111"'


def test_tail_reset_breaks_the_stream_after_n_entries(cloud_logging: LoggingServer) -> None:
    cloud_logging.plan.add("TailLogEntries", "reset", after_bytes=1)  # counts entries here
    client = logging_client(cloud_logging)
    tail = TailLogEntriesRequest(resource_names=[f"projects/{PROJECT}"])

    def append_later() -> None:
        assert cloud_logging.wait_for("TailLogEntries")
        cloud_logging.append([dict(text="one", job_id="1"), dict(text="two", job_id="1")])

    threading.Thread(target=append_later, daemon=True).start()
    got: list[str] = []
    with pytest.raises(exceptions.ServiceUnavailable):
        for response in client.tail_log_entries(requests=iter([tail])):
            got += [e.text_payload for e in response.entries]
    assert got == ["one"]


# -- Cloud Storage ---------------------------------------------------------------------


def test_gcs_round_trip_with_checksums(gcs: GcsEmulator) -> None:
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    bucket = client.create_bucket("mlx-test")
    payload = bytes(range(256)) * 40
    bucket.blob("mlx/job-1/model/weights.bin").upload_from_string(payload)
    bucket.blob("mlx/job-1/logs/train.log").upload_from_string(b"loss=0.5\n")
    bucket.blob("mlx/job-2/model/weights.bin").upload_from_string(b"other")

    names = [b.name for b in client.list_blobs("mlx-test", prefix="mlx/job-1/")]
    assert names == ["mlx/job-1/logs/train.log", "mlx/job-1/model/weights.bin"]
    blob = bucket.get_blob("mlx/job-1/model/weights.bin")
    crc = google_crc32c.Checksum(payload).digest()
    assert (blob.size, blob.crc32c) == (len(payload), base64.b64encode(crc).decode())
    assert blob.md5_hash == base64.b64encode(hashlib.md5(payload).digest()).decode()
    assert blob.download_as_bytes(start=100, end=109) == payload[100:110]
    listed = gcs.operations("objects.list")
    assert query_of(listed[0])["prefix"] == ["mlx/job-1/"]


def test_gcs_faults_go_through_the_proxy(gcs: GcsEmulator) -> None:
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    client.create_bucket("b").blob("k").upload_from_string(b"v")
    gcs.plan.add("objects.list", "error", status=503)
    retry = storage.retry.DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05)
    assert [b.name for b in client.list_blobs("b", retry=retry)] == ["k"]
    assert gcs.plan.count("objects.list") == 2
    gcs.plan.add("objects.list", "throttle")
    with pytest.raises(exceptions.TooManyRequests):
        list(client.list_blobs("b", retry=None))
    # A download cut mid-body is resumed by the storage client's own retry.
    gcs.plan.add("objects.get", "reset", after_bytes=0)
    blob = client.bucket("b").blob("k")
    assert blob.download_as_bytes(retry=retry) == b"v"
    assert [r.operation for r in gcs.requests[-2:]] == ["objects.get", "objects.get"]
