"""The Azure backend end to end through the real CLI, the real SDKs and real HTTP: code
upload, idempotent create, retries, failures, logs of every process, artifacts, trials."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.backends.azure.conftest import Azure, azure_spec
from tests.emulators.proxy import FaultProxy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def detach(mlx: Any, spec: Path, *extra: str) -> str:
    result = mlx("train", spec, "--detach", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["id"]


def in_background(play: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


# --- submit ------------------------------------------------------------------------------


def test_submit_uploads_code_with_the_bootstrap_once(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    spec = azure_spec(tmp_path, hyperparameters={"lr": 0.1})
    job = detach(mlx, spec)
    sent = azure.submitted(job)
    assert sent["jobType"] == "Command"
    assert (sent["displayName"], sent["experimentName"], sent["tags"]) == (
        job,
        "az",
        {"mlx-job-id": job},
    )
    config = json.loads(sent["environmentVariables"]["MLX_RUNTIME_CONFIG"])
    assert config["hyperparameters"] == {"lr": 0.1}

    [code] = azure.server.requests("PUT codes")
    uri = code.json["properties"]["codeUri"]  # <azurite>/<container>/<asset>/code
    container, folder = uri[len(azure.server.azurite.url) + 1 :].split("/", 1)
    client = azure.server.azurite.service_client().get_container_client(container)
    names = sorted(b.name for b in client.list_blobs(name_starts_with=folder + "/"))
    assert names == [f"{folder}/.mlx/mlx-bootstrap.pyz", f"{folder}/train.py"]
    assert not (tmp_path / "project" / "code" / ".mlx").exists()

    detach(mlx, spec, "--set", "hyperparameters.lr=0.2")  # new job, same code: no upload
    assert len(azure.server.requests("POST codes/startPendingUpload")) == 1
    status = json.loads(mlx("status", job, "--json").stdout)
    assert (status["state"], status["native_id"]) == ("pending", job)
    assert status["artifacts_uri"] == (f"azureml://datastores/workspaceblobstore/paths/mlx/{job}/")


def test_a_cluster_that_falls_short_is_a_warning(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    spec = azure_spec(tmp_path, resources={"accelerator": "A100:2"})
    result = mlx("train", spec, "--detach")  # gpu-cluster is Standard_NC6s_v3: one V100
    assert result.exit_code == 0, result.stderr
    assert (
        "Warning: compute gpu-cluster: Standard_NC6s_v3 does not satisfy resources: it has "
        "V100:1, resources.accelerator asks for A100:2"
    ) in " ".join(result.stderr.split())


def test_the_job_shows_the_argv_the_script_receives(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    hps = {"lr": 0.1, "layers": [64, 32], "amp": True, "note": "a b"}
    job = detach(mlx, azure_spec(tmp_path, hyperparameters=hps))
    sent = azure.submitted(job)
    # What Studio shows (and "edit and resubmit" sends again): the whole argv, the plain
    # scalar as a literal input Studio lists beside the job.
    assert sent["command"].endswith(
        "-- python train.py --lr '${{inputs.lr}}' --layers 64 --layers 32 --amp --note 'a b'"
    )
    assert sent["inputs"] == {"lr": {"jobInputType": "literal", "value": "0.1"}}
    config = json.loads(sent["environmentVariables"]["MLX_RUNTIME_CONFIG"])
    assert config["hyperparameters_in_argv"] is True  # the bootstrap adds none again


def test_sweep_trials_show_the_static_values_too(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    tune = {
        "objective": {"metric": "loss", "goal": "minimize"},
        "parameters": {"opt": {"type": "choice", "values": ["sgd", "adam"]}},
    }
    spec = azure_spec(
        tmp_path, hyperparameters={"epochs": 3}, metrics=[{"name": "loss"}], tune=tune
    )
    result = mlx("tune", spec, "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    sent = azure.submitted(json.loads(result.stdout)["id"])
    assert sent["trial"]["command"].endswith(
        "-- python train.py --epochs '${{inputs.epochs}}' --opt '${{search_space.opt}}'"
    )
    assert sent["inputs"] == {"epochs": {"jobInputType": "literal", "value": "3"}}


def test_a_create_whose_answer_is_lost_makes_one_job(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    azure.server.plan.add("PUT jobs", "reset")  # the server creates it; the answer is cut
    job = detach(mlx, azure_spec(tmp_path))
    assert list(azure.server.jobs) == [job]
    assert len(azure.server.requests("PUT jobs")) == 2  # azure-core retried the same name


def test_a_create_that_never_answers_is_found_by_name(
    mlx: Any, tmp_path: Path, azure: Azure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLX_PACING", "fast,retry_attempts=1")
    azure.server.plan.add("PUT jobs", "reset", times=5)
    job = detach(mlx, azure_spec(tmp_path))
    assert list(azure.server.jobs) == [job]
    assert len(azure.server.requests("PUT jobs")) == 2
    assert azure.server.requests("GET jobs")[-1].path.endswith("/jobs/" + job)


def test_throttling_and_503_are_retried(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    job = detach(mlx, azure_spec(tmp_path))
    azure.server.set_status(job, "Running")
    # After submit, a job's state comes from run history (``direct``), retried alike.
    azure.server.plan.add("GET runs/details", "throttle")
    azure.server.plan.add("GET runs/details", "error", status=503)
    result = mlx("status", job, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "running"
    assert [r.status for r in azure.server.requests("GET runs/details")] == [429, 503, 200]


def test_a_failed_job_exits_1_with_its_error(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    def play() -> None:
        name = azure.wait_for_job()
        azure.server.set_status(name, "Running")
        azure.log(name, ["epoch 1", "CUDA error: out of memory"])
        azure.server.set_status(name, "Failed", error="CUDA out of memory on node 0")

    in_background(play)
    result = mlx("train", azure_spec(tmp_path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["epoch 1", "CUDA error: out of memory"]
    assert re.search(r"Error: job az-\w+ failed: CUDA out of memory on node 0", result.stderr)
    assert "Traceback" not in result.stderr


def test_missing_credentials_say_az_login(
    mlx: Any, tmp_path: Path, azure: Azure, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.identity import CredentialUnavailableError

    class NoCredential:  # what DefaultAzureCredential does on a machine without any
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token")

    monkeypatch.delenv("MLX_AZURE_ACCESS_TOKEN")
    monkeypatch.setattr("azure.identity.DefaultAzureCredential", NoCredential)
    result = mlx("train", azure_spec(tmp_path), "--detach")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()  # the price is said before the submit needs them
    assert lines[0].startswith("Instance: ") and lines[1].startswith(
        "Error: no Azure credentials found"
    )
    assert "Hint: Run `az login`" in result.stderr
    assert azure.server.jobs == {}


def test_an_sdk_validation_error_is_one_plain_line() -> None:
    """azure-ai-ml formats its own refusals in colour over many lines: mlx shows the detail."""
    from azure.ai.ml._exception_helper import log_and_raise_error
    from azure.ai.ml.exceptions import (
        ErrorCategory,
        ErrorTarget,
        ValidationErrorType,
        ValidationException,
    )

    from mlx.backends.azure.clients import azure_errors
    from mlx.errors import BackendError

    refused = ValidationException(
        message="Supported input path value are ARM id, AzureML id, remote uri or local path."
        "\nMet <class 'ServiceRequestError'>:\nFailed to resolve 'acct.blob.core.windows.net'",
        no_personal_data_message="input path",
        target=ErrorTarget.JOB,
        error_category=ErrorCategory.USER_ERROR,
        error_type=ValidationErrorType.INVALID_VALUE,
    )
    with pytest.raises(BackendError) as raised, azure_errors("creating job az-1"):
        log_and_raise_error(refused)
    assert raised.value.message == (
        "Azure ML creating job az-1 failed: Supported input path value are ARM id, AzureML id, "
        "remote uri or local path. Met <class 'ServiceRequestError'>: Failed to resolve "
        "'acct.blob.core.windows.net'"
    )


def test_an_unreachable_workspace_is_one_clean_error(
    mlx: Any, tmp_path: Path, azure: Azure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLX_AZURE_WORKSPACE", "no-such-ws")
    result = mlx("train", azure_spec(tmp_path), "--detach")
    assert result.exit_code == 1
    said = result.stderr.splitlines()  # the price, said before the submit, then the error
    assert said[0].startswith("Instance: ") and said[1].startswith("Error: Azure ML ")
    assert "no-such-ws not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_jobs_status_filter_from_one_tagged_listing(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    spec = azure_spec(tmp_path)
    running, done, waiting = (detach(mlx, spec) for _ in range(3))
    azure.server.set_status(running, "Running")
    azure.server.set_status(done, "Completed")
    azure.server.page_size = 2  # newest first: the three jobs take two pages

    listed = mlx("jobs", "--status", "running", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [j["id"] for j in json.loads(listed.stdout)] == [running]
    [*pages] = azure.server.requests("LIST jobs")
    assert [r.query.get("tag") for r in pages] == ["mlx-job-id"] * len(pages) and pages
    everything = json.loads(mlx("jobs", "--json").stdout)
    assert {j["id"]: j["state"] for j in everything} == {
        running: "running",
        done: "succeeded",
        waiting: "pending",
    }


# --- states --------------------------------------------------------------------------------


def _polled(azure: Azure, since: int, more: int = 2) -> None:
    """Until mlx asked for the job's state (run history, ``direct``) ``more`` times after
    request ``since``."""
    deadline = time.monotonic() + 20
    while len(azure.server.requests("GET runs/details")) < since + more:
        assert time.monotonic() < deadline, "mlx stopped asking for the job's state"
        time.sleep(0.01)


def test_a_job_not_responding_is_waited_for(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    def play() -> None:
        name = azure.wait_for_job()
        azure.server.set_status(name, "Running")
        azure.log(name, ["epoch 1"], process=None)
        azure.server.set_status(name, "NotResponding")  # no heartbeat for a while
        _polled(azure, len(azure.server.requests("GET runs/details")))
        azure.server.set_status(name, "Running")  # "can go from NotResponding to any ..."
        azure.log(name, ["epoch 2"], process=None)
        azure.server.set_status(name, "Completed")

    in_background(play)
    result = mlx("train", azure_spec(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["epoch 1", "epoch 2"]
    assert re.search(r"Job az-\w+ succeeded", result.stderr)


def test_status_of_a_job_not_responding(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    job = detach(mlx, azure_spec(tmp_path))
    azure.server.set_status(job, "Running")
    azure.server.set_status(job, "NotResponding")
    status = json.loads(mlx("status", job, "--json").stdout)
    assert (status["state"], status["ended_at"]) == ("running", None)
    assert status["message"].startswith("NotResponding: Azure ML has had no heartbeat")
    azure.server.set_status(job, "Running")
    status = json.loads(mlx("status", job, "--json").stdout)
    assert (status["state"], status["message"]) == ("running", "Running")  # nothing stale


def test_a_trial_not_responding_is_still_running(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    tune = {
        "objective": {"metric": "loss", "goal": "minimize"},
        "max_trials": 2,
        "parameters": {"opt": {"type": "choice", "values": ["sgd", "adam"]}},
    }
    result = mlx(
        "tune", azure_spec(tmp_path, metrics=[{"name": "loss"}], tune=tune), "--detach", "--json"
    )
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["id"]
    azure.server.set_status(job, "Running")
    azure.server.add_child_runs(job, [{"status": "NotResponding"}, {"status": "Running"}])
    trials = json.loads(mlx("status", job, "--json").stdout)["trials"]
    assert [t["state"] for t in trials] == ["running", "running"]


# --- the cluster decides spot and disk ------------------------------------------------------


def warnings_of(result: Any) -> str:
    return " ".join(result.stderr.split())  # Rich wraps at 80 columns


def test_spot_on_a_dedicated_cluster_warns_with_the_dedicated_price(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    result = mlx(
        "train", azure_spec(tmp_path, resources={"spot": True, "disk": "200GB"}), "--detach"
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "Warning: resources.spot: compute gpu-cluster is not a low-priority cluster, and Azure "
        "ML sets low priority per cluster, not per job: this job runs, and is billed, at the "
        "dedicated price (Standard_NC6s_v3: $3.06/h per node, eastus reference prices of "
        "2026-11-23); name a low-priority cluster in `azure.compute` to run on spare capacity"
    ) in warnings_of(result)
    assert (
        "Warning: resources.disk (200 GB) is not applied: an Azure ML job gets the disks of "
        "its cluster's VM size (Standard_NC6s_v3); a job cannot size them"
    ) in warnings_of(result)
    assert len(azure.server.requests("GET computes")) == 1  # the one read it made before


def test_a_low_priority_cluster_is_what_spot_asks_for(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    azure.server.add_compute("spot-cluster", "Standard_NC6s_v3", priority="LowPriority")
    settings = {"azure": {"compute": "spot-cluster"}}
    spot = mlx("train", azure_spec(tmp_path, resources={"spot": True}, **settings), "--detach")
    assert spot.exit_code == 0, spot.stderr
    assert "Warning" not in spot.stderr
    plain = mlx("train", azure_spec(tmp_path, **settings), "--detach")
    assert (
        "Warning: compute spot-cluster is a low-priority cluster: Azure may preempt this job, "
        "though resources.spot is not set"
    ) in warnings_of(plain)


# --- logs --------------------------------------------------------------------------------

FOUR = {"resources": {"accelerator": "A100:2", "nodes": 4}}  # one process on each of 4 nodes


def log_reads(proxy: FaultProxy) -> dict[str, list[tuple[int, int]]]:
    """Log blob -> the byte ranges read from it, in order."""
    reads: dict[str, list[tuple[int, int]]] = {}
    for request in proxy.requests:
        if request.method == "GET" and "/user_logs/" in request.path:
            blob = request.path.split("?")[0].rsplit("/", 1)[-1]
            headers = {k.lower(): v for k, v in request.headers.items()}
            start, end = re.fullmatch(r"bytes=(\d+)-(\d+)", headers["x-ms-range"]).groups()
            reads.setdefault(blob, []).append((int(start), int(end)))
    return reads


def test_follow_merges_every_process_and_reads_only_new_bytes(
    mlx: Any, tmp_path: Path, azure: Azure, proxied: FaultProxy
) -> None:
    job = detach(mlx, azure_spec(tmp_path, **FOUR))
    azure.server.set_status(job, "Running")
    for rank in range(4):
        azure.log(job, [f"rank {rank} step {i}" for i in range(3)], process=rank)

    def play() -> None:
        deadline = time.monotonic() + 20
        while len(log_reads(proxied)) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # until the first reads happened
        for rank in range(4):
            azure.log(job, [f"rank {rank} step {i}" for i in range(3, 6)], process=rank)
        time.sleep(0.2)
        azure.server.set_status(job, "Completed")

    in_background(play)
    result = mlx("logs", job, "-f")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    for rank in range(4):
        prefix = f"[node-{rank}] "
        mine = [line[len(prefix) :] for line in lines if line.startswith(prefix)]
        assert mine == [f"rank {rank} step {i}" for i in range(6)]
    assert len(lines) == 24

    sizes = {
        b.name.rsplit("/", 1)[-1]: b.size
        for b in azure.server.azurite.service_client()
        .get_container_client(azure.server.artifact_container)
        .list_blobs()
    }
    for blob, ranges in log_reads(proxied).items():
        assert len(ranges) >= 2, ranges  # read while it grew...
        assert ranges[0][0] == 0  # ...from the start once,
        for (_, end), (start, _) in zip(ranges, ranges[1:]):
            assert start == end + 1  # ...then only what was new
        assert ranges[-1][1] + 1 == sizes[blob]
    # One listing per poll whatever the number of processes: every listing asks for the
    # run's whole log prefix, never one blob's. (Counting listings against reads failed
    # under load, when idle polls outnumber the reads.)
    listings = [r for r in proxied.requests if "comp=list" in r.path]
    prefixes = {parse_qs(urlsplit(r.path).query).get("prefix", [""])[0] for r in listings}
    assert len(listings) >= 2 and len(prefixes) == 1, prefixes
    (prefix,) = prefixes
    assert not any(name in prefix for name in sizes)


def test_log_filters_tail_grep_node_since(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    job = detach(mlx, azure_spec(tmp_path, resources={"nodes": 2}))
    for node in range(2):
        azure.log(job, [f"node {node} loss={i}" for i in range(5)], process=node)
    azure.server.set_status(job, "Completed")

    def logs(*extra: str) -> list[str]:
        result = mlx("logs", job, *extra)
        assert result.exit_code == 0, result.stderr
        return result.stdout.splitlines()

    assert len(logs()) == 10
    assert logs("--node", "1") == [f"[node-1] node 1 loss={i}" for i in range(5)]
    assert logs("--node", "1", "--tail", "2") == [
        "[node-1] node 1 loss=3",
        "[node-1] node 1 loss=4",
    ]
    assert logs("--grep", "loss=[34]") == [
        f"[node-{n}] node {n} loss={i}" for n in range(2) for i in (3, 4)
    ]
    assert len(logs("--since", "10m")) == 10
    assert logs("--since", "2999-01-01T00:00:00Z") == []


def test_throttled_and_failing_log_reads_are_retried(
    mlx: Any, tmp_path: Path, azure: Azure, proxied: FaultProxy
) -> None:
    job = detach(mlx, azure_spec(tmp_path))
    azure.log(job, ["hello", "world"], process=None)
    azure.server.set_status(job, "Completed")
    read = "GET /devstoreaccount1/*/user_logs/std_log.txt"
    proxied.plan.add(read, "throttle")  # 429: azure-storage-blob alone would give up
    proxied.plan.add(read, "error", status=503)  # Azure Storage's ServerBusy
    result = mlx("logs", job)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["hello", "world"]
    assert proxied.plan.count(read) == 3


# --- artifacts ---------------------------------------------------------------------------

WEIGHTS = bytes(range(256)) * 4096  # 1 MiB


def test_pull_while_running_by_glob_skips_same_md5(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    job = detach(mlx, azure_spec(tmp_path))
    azure.server.set_status(job, "Running")
    azure.put_artifact(job, "model/weights.bin", WEIGHTS)
    azure.put_artifact(job, "model/config.json", b"{}")
    azure.put_artifact(job, "output/tensorboard/events.0", b"event")

    listed = json.loads(mlx("pull-artifacts", job, "--list", "--json").stdout)
    assert [(a["path"], a["size"]) for a in listed] == [
        ("model/config.json", 2),
        ("model/weights.bin", len(WEIGHTS)),
        ("output/tensorboard/events.0", 5),
    ]
    assert listed[1]["checksum"] == hashlib.md5(WEIGHTS).hexdigest()

    dest = tmp_path / "pulled"
    first = mlx("pull-artifacts", job, "-i", "model/*", "--dest", dest, "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["downloaded"] == ["model/config.json", "model/weights.bin"]
    assert (dest / "model" / "weights.bin").read_bytes() == WEIGHTS
    assert not (dest / "output").exists()

    again = json.loads(mlx("pull-artifacts", job, "-i", "model", "--dest", dest, "--json").stdout)
    assert again["skipped"] == ["model/config.json", "model/weights.bin"]
    (dest / "model" / "config.json").write_bytes(b"[]")  # same size, other bytes
    third = json.loads(mlx("pull-artifacts", job, "-i", "model", "--dest", dest, "--json").stdout)
    assert third["downloaded"] == ["model/config.json"]
    assert (dest / "model" / "config.json").read_bytes() == b"{}"


def test_a_failed_download_leaves_nothing_behind(
    mlx: Any, tmp_path: Path, azure: Azure, proxied: FaultProxy
) -> None:
    job = detach(mlx, azure_spec(tmp_path))
    azure.put_artifact(job, "model/weights.bin", WEIGHTS)
    proxied.plan.add("GET /devstoreaccount1/*/weights.bin", "error", status=500, times=50)
    dest = tmp_path / "pulled"
    result = mlx("pull-artifacts", job, "--dest", dest)
    assert result.exit_code == 1
    assert "Error: " in result.stderr and "weights.bin" in result.stderr
    assert "Traceback" not in result.stderr
    assert [p for p in dest.rglob("*") if p.is_file()] == []


# --- sweeps ------------------------------------------------------------------------------


def test_trials_of_a_big_sweep_are_all_read_and_decoded(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    tune = {
        "objective": {"metric": "loss", "goal": "minimize"},
        "algorithm": "random",
        "max_trials": 5,
        "parameters": {"opt": {"type": "choice", "values": ["sgd", "adam w"]}},
    }
    spec = azure_spec(tmp_path, metrics=[{"name": "loss"}], tune=tune)
    result = mlx("tune", spec, "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["id"]
    azure.server.page_size = 2  # run history pages: mlx must follow nextLink
    runs = [
        {
            "runId": f"{job}_{i}",
            "status": "Completed" if i < 4 else "Running",
            "tags": {"hyperparameters": json.dumps({"opt": i % 2}), "loss": str(1 - i / 10)},
        }
        for i in range(5)
    ]
    azure.server.add_child_runs(job, [*runs, {"runId": f"{job}_preparation"}])
    azure.server.set_status(job, "Running")

    status = json.loads(mlx("status", job, "--json").stdout)
    trials = status["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3, 4]
    assert [t["params"]["opt"] for t in trials] == ["sgd", "adam w", "sgd", "adam w", "sgd"]
    assert [t["state"] for t in trials] == ["succeeded"] * 4 + ["running"]
    assert status["best"] == {"number": 3, "params": {"opt": "adam w"}, "objective": 0.7}
    assert len(azure.server.requests("GET runs/children")) >= 3


def test_the_first_lines_of_stderr_are_mlx_s_own(mlx: Any, tmp_path: Path, azure: Azure) -> None:
    result = mlx("train", azure_spec(tmp_path), "--detach")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Instance: "), result.stderr  # what it can cost, before submit
    assert re.fullmatch(r"Started az-\w+ on azure", lines[1]), result.stderr
    assert "\x1b" not in result.stderr and "tenant id" not in result.stderr
