"""Driving Vertex jobs through the CLI: create once, retries, failures, logs, staging."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from google.cloud.logging_v2.types import LogEntry

from tests.backends.vertex.conftest import BUCKET, Gcp, just_now, vertex_spec
from tests.conftest import write

OOM = "The replica workerpool0-0 exited with a non-zero status of 137. Reason: OOMKilled."


def detach(mlx: Any, spec: Path, *extra: str) -> dict[str, Any]:
    result = mlx("train", spec, "--detach", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def numeric(job: dict[str, Any]) -> str:
    return job["native_id"].rsplit("/", 1)[1]


@pytest.mark.parametrize(
    ("fault", "after_bytes", "creates"),
    [("reset", 0, 2), ("reset", 40, 1), ("throttle", 0, 2)],
    ids=["dropped-before", "answer-lost", "throttled"],
)
def test_a_lost_create_answer_still_makes_exactly_one_job(
    mlx: Any, gcp: Gcp, tmp_path: Path, fault: Any, after_bytes: int, creates: int
) -> None:
    """Vertex names jobs itself: after a create that may or may not have happened (a
    dropped connection, an answer cut off, a 429), mlx lists by its label before creating
    again."""
    gcp.vertex.plan.add("CreateCustomJob", fault, after_bytes=after_bytes)
    job = detach(mlx, vertex_spec(tmp_path))
    assert len(gcp.vertex.jobs) == 1
    (created,) = gcp.vertex.jobs.values()
    assert job["native_id"] == created.name
    assert created.labels == {"mlx-job-id": job["id"]}
    lookups = gcp.vertex.requests("ListCustomJobs")
    assert [r["query"]["filter"] for r in lookups] == [f'labels.mlx-job-id="{job["id"]}"']
    assert len(gcp.vertex.requests("CreateCustomJob")) == creates


def test_throttling_and_unavailable_answers_are_retried(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    job = detach(mlx, vertex_spec(tmp_path))
    gcp.vertex.set_state(numeric(job), "JOB_STATE_SUCCEEDED")
    gcp.log_lines(numeric(job), "workerpool0-0", ["done"], just_now())
    gcp.put_object(f"mlx/{job['id']}/model/m.bin", b"weights")
    metrics = [{"name": "loss", "value": v, "step": i, "time": 1.0} for i, v in enumerate([1, 0.5])]
    gcp.put_object(
        f"mlx/{job['id']}/mlx/metrics.jsonl", "\n".join(map(json.dumps, metrics)).encode()
    )
    for rpc in ("GetCustomJob", "ListLogEntries", "objects.list"):
        plan = gcp.gcs.plan if rpc.startswith("objects") else None
        plan = plan or (gcp.logging.plan if "Log" in rpc else gcp.vertex.plan)
        plan.add(rpc, "throttle")
        plan.add(rpc, "error", status=503)

    status = mlx("status", job["id"], "--json")
    shown = json.loads(status.stdout)
    assert (shown["state"], shown["exit_code"]) == ("succeeded", 0), status.stderr
    assert shown["metrics"] == {"loss": 0.5}  # the last values the bootstrap recorded
    logs = mlx("logs", job["id"])
    assert logs.stdout == "done\n", logs.stderr
    listed = mlx("pull-artifacts", job["id"], "--list", "--json")
    assert [a["path"] for a in json.loads(listed.stdout)] == ["model/m.bin"], listed.stderr
    assert gcp.vertex.plan.count("GetCustomJob") >= 3
    assert gcp.logging.plan.count("ListLogEntries") == 3
    assert gcp.gcs.plan.count("objects.list") == 3


def test_a_failed_job_exits_1_with_vertex_error_message(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    def play() -> None:
        number, _job = gcp.wait_for_job()
        gcp.vertex.set_state(number, "JOB_STATE_RUNNING")
        gcp.log_lines(number, "workerpool0-0", ["loading data", "Killed"], just_now())
        gcp.vertex.set_state(number, "JOB_STATE_FAILED", error={"code": 3, "message": OOM})

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    result = mlx("train", vertex_spec(tmp_path))
    thread.join()
    assert result.exit_code == 1
    assert result.stdout == "loading data\nKilled\n"
    job_id = re.search(r"Started (\S+) on vertex", result.stderr).group(1)  # type: ignore[union-attr]
    assert f"Error: job {job_id} failed: {OOM}" in result.stderr
    assert "Traceback" not in result.stderr
    status = json.loads(mlx("status", job_id, "--json").stdout)
    assert (status["state"], status["message"]) == ("failed", OOM)


def test_every_log_request_is_bounded_in_time_and_filters_server_side(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    job = detach(mlx, vertex_spec(tmp_path, resources={"nodes": 3}))
    number = numeric(job)
    start = just_now()
    for node, task in enumerate(["workerpool0-0", "workerpool1-0", "workerpool1-1"]):
        lines = [f"node {node} line {i}" for i in range(3)]
        gcp.log_lines(number, task, lines, start + timedelta(milliseconds=node))
    entry = LogEntry(
        log_name="projects/test-project/logs/workerpool1-1",
        resource={"type": "ml_job", "labels": {"job_id": number, "task_name": "workerpool1-1"}},
        json_payload={"message": "node 2 as json", "levelname": "INFO"},
        timestamp=start + timedelta(milliseconds=3),
    )
    gcp.logging.append([entry])
    gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")

    everything = mlx("logs", job["id"]).stdout.splitlines()
    assert everything[:4] == [
        "[node-0] node 0 line 0",
        "[node-1] node 1 line 0",
        "[node-2] node 2 line 0",
        "[node-2] node 2 as json",
    ]
    assert len(everything) == 10
    assert mlx("logs", job["id"], "--tail", "2").stdout.splitlines() == everything[-2:]
    node = mlx("logs", job["id"], "--node", "2").stdout.splitlines()
    assert node == [line for line in everything if line.startswith("[node-2]")]
    grep = mlx("logs", job["id"], "--grep", "line [12]$").stdout.splitlines()
    assert grep == [line for line in everything if re.search("line [12]$", line)]
    ahead = mlx("logs", job["id"], "--grep", "node (?=2)").stdout.splitlines()  # not RE2
    assert ahead == [line for line in everything if line.startswith("[node-2]")]
    assert mlx("logs", job["id"], "--since", "1m", "-f").stdout.splitlines() == everything

    filters = gcp.logging.filters
    assert len(filters) >= 6
    for text in filters:  # the client would add a 24 h bound to an unbounded filter
        assert re.search(r'timestamp>="\d{4}-\d\d-\d\dT[^"]+Z"', text), text
        assert re.search(r'timestamp<="\d{4}-\d\d-\d\dT[^"]+Z"', text), text
        assert f'resource.labels.job_id="{number}"' in text
    assert any('resource.labels.task_name="workerpool1-1"' in f for f in filters)
    assert any('textPayload=~"line [12]$"' in f for f in filters)
    assert not any("(?=" in f for f in filters)


def test_staging_uploads_local_inputs_once_and_the_bootstrap_per_job(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    write(tmp_path / "project" / "data" / "train" / "rows.csv", "a,b\n1,2\n")
    spec = vertex_spec(tmp_path, inputs={"train": "data/train"})
    first = detach(mlx, spec)
    uploads_before = len(gcp.gcs.operations("objects.insert"))
    second = detach(mlx, spec)
    uploads = len(gcp.gcs.operations("objects.insert")) - uploads_before
    assert uploads == 3  # bootstrap, runtime.json, code: the input was there already

    names = gcp.objects()
    inputs = [n for n in names if n.startswith("mlx/inputs/")]
    assert len(inputs) == 2 and inputs[0].endswith(".complete")
    digest = inputs[0].split("/")[2].removesuffix(".complete")
    assert inputs[1] == f"mlx/inputs/{digest}/rows.csv"
    for job in (first, second):
        staged = f"mlx/{job['id']}/mlx/"
        assert {f"{staged}mlx-bootstrap.pyz", f"{staged}runtime.json"} <= set(names)
        assert f"{staged}code/train.py" in names
    blob = gcp.storage().bucket(BUCKET).blob(f"mlx/{second['id']}/mlx/runtime.json")
    runtime = json.loads(blob.download_as_bytes())
    assert runtime["inputs"] == {"train": f"/gcs/{BUCKET}/mlx/inputs/{digest}"}
    assert runtime["workdir"] == f"/gcs/{BUCKET}/mlx/{second['id']}/mlx/code"


def test_missing_credentials_fail_before_any_upload(
    mlx: Any, gcp: Gcp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlx.backends.vertex.clients import default_credentials

    default_credentials.cache_clear()
    monkeypatch.setenv("MLX_VERTEX_ENDPOINT", "https://127.0.0.1:9")  # a real, https endpoint
    result = mlx("train", vertex_spec(tmp_path), "--detach")
    default_credentials.cache_clear()
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-2:] == [
        "Error: no Google Cloud credentials found",
        "Hint: Run `gcloud auth application-default login`",
    ]
    assert gcp.objects() == []


def test_cancel_a_tuning_job(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    spec = vertex_spec(
        tmp_path,
        metrics=[{"name": "loss"}],
        tune={
            "objective": {"metric": "loss"},
            "parameters": {"lr": {"type": "float", "min": 0.001, "max": 0.1}},
        },
    )
    started = mlx("tune", spec, "--detach")
    assert started.exit_code == 0, started.stderr
    job_id = re.search(r"Started tuning job (\S+) on", started.stderr).group(1)  # type: ignore[union-attr]
    result = mlx("cancel", job_id)
    assert result.exit_code == 0, result.stderr
    assert f"Job {job_id} cancelled" in result.stderr
    assert len(gcp.vertex.requests("CancelHyperparameterTuningJob")) == 1


def test_jobs_refreshes_vertex_jobs_with_one_filtered_list(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    spec = vertex_spec(tmp_path)
    running, failed, pending = (detach(mlx, spec) for _ in range(3))
    gcp.vertex.set_state(numeric(running), "JOB_STATE_RUNNING")
    gcp.vertex.set_state(numeric(failed), "JOB_STATE_FAILED", error={"code": 3, "message": OOM})
    before = len(gcp.vertex.requests())

    listed = json.loads(mlx("jobs", "--json").stdout)
    states = {job["id"]: (job["state"], job["message"]) for job in listed}
    assert states == {
        running["id"]: ("running", None),
        failed["id"]: ("failed", OOM),
        pending["id"]: ("pending", None),
    }
    (request,) = gcp.vertex.requests()[before:]  # one call for the three jobs, no Get each
    assert request["rpc"] == "ListCustomJobs"
    assert request["query"]["filter"].startswith('labels.mlx-job-id:* AND create_time>="')
    only = json.loads(mlx("jobs", "--status", "running", "--json").stdout)
    assert [job["id"] for job in only] == [running["id"]]
