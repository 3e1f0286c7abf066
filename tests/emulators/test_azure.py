"""The Azure test servers, proven with the real azure-storage-blob and azure-ai-ml SDKs."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml import Input, MLClient, Output, PyTorchDistribution, command
from azure.ai.ml.entities import Environment
from azure.ai.ml.sweep import Choice, LogUniform
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContentSettings, LinearRetry

from tests.emulators.azure_fixtures import azureml_client
from tests.emulators.azureml import AzureMLServer
from tests.emulators.azurite import DEV_ACCOUNT, DEV_KEY, AzuriteServer
from tests.emulators.proxy import FaultProxy

pytest_plugins = ["tests.emulators.azure_fixtures"]
# azure-ai-ml's schemas warn about marshmallow 4 on every job they serialize.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

COMMAND = "python train.py --lr ${{inputs.lr}} --train ${{inputs.train}} --out ${{outputs.model}}"
TRAIN_URI = "azureml://datastores/workspaceblobstore/paths/data/train/"
DEV_CREDENTIAL = {"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every host the process connects to or looks up; refuse all but 127.0.0.1.

    The list catches attempts that the SDKs would swallow (telemetry fails silently).
    """
    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo
    hosts: list[str] = []

    def check(host: Any) -> None:
        hosts.append(str(host))
        if host not in LOOPBACK:
            raise OSError(f"test tried to reach {host}")

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family != socket.AF_UNIX:
            check(address[0])
        return real_connect(sock, address)

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        check(host)
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return hosts


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text("print('val_loss=0.5')\n")
    return src


def submit(ml_client: MLClient, name: str, code: Path | None = None, **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "name": name,
        "code": str(code) if code else None,
        "command": COMMAND,
        "environment": Environment(image="python:3.11-slim"),
        "compute": "gpu-cluster",
        "inputs": {"lr": 0.01, "train": Input(type="uri_folder", path=TRAIN_URI)},
        "outputs": {"model": Output(type="uri_folder")},
        "instance_count": 2,
        "distribution": PyTorchDistribution(process_count_per_instance=1),
        "experiment_name": "mlx-tests",
    }
    return ml_client.jobs.create_or_update(command(**{**options, **overrides}))


# --- Azurite ---------------------------------------------------------------------------------


def test_blob_upload_list_download_with_md5(azurite: AzuriteServer) -> None:
    client = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    container = azurite.create_container()
    data = b"epoch=1 val_loss=0.25\n" * 1000
    blob = client.get_blob_client(container, "mlx/job-1/model/weights.bin")
    blob.upload_blob(
        data, content_settings=ContentSettings(content_type="application/octet-stream")
    )

    names = [
        b.name for b in client.get_container_client(container).list_blobs(name_starts_with="mlx/")
    ]
    assert names == ["mlx/job-1/model/weights.bin"]
    assert blob.download_blob().readall() == data
    props = blob.get_blob_properties()
    assert bytes(props.content_settings.content_md5) == hashlib.md5(data).digest()
    assert props.size == len(data)


def test_sas_urls_read_but_do_not_write(azurite: AzuriteServer) -> None:
    container = azurite.create_container()
    azurite.service_client().get_blob_client(container, "logs/a b.txt").upload_blob(b"hello")
    with urllib.request.urlopen(azurite.blob_sas_url(container, "logs/a b.txt")) as answer:
        assert answer.read() == b"hello"
    read_only = azurite.container_sas_url(container, permission="rl")
    blob_url = read_only.replace("?", "/other.txt?", 1)
    put = urllib.request.Request(
        blob_url, data=b"x", method="PUT", headers={"x-ms-blob-type": "BlockBlob"}
    )
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(put)
    assert denied.value.code == 403


def test_blob_faults_through_the_proxy_are_retried(
    azurite: AzuriteServer, azurite_proxy: FaultProxy
) -> None:
    container = azurite.create_container()
    data = bytes(range(256)) * 64
    azurite.service_client().get_blob_client(container, "model.bin").upload_blob(data)
    # azure-storage-blob waits 15 s before its first retry by default; tests cannot.
    quick = LinearRetry(backoff=0, random_jitter_range=0)
    client = BlobServiceClient(
        f"{azurite_proxy.url}/{DEV_ACCOUNT}", credential=DEV_CREDENTIAL, retry_policy=quick
    )
    # Azure Storage throttles with 503 ServerBusy (the SDK does not retry 429); a reset
    # mid-body is retried too, but after a fixed 1 s sleep inside azure-storage-blob.
    azurite_proxy.plan.add("GET /devstoreaccount1/*/model.bin", "error", status=503)
    azurite_proxy.plan.add("GET /devstoreaccount1/*/model.bin", "error", status=500)
    blob = client.get_blob_client(container, "model.bin")
    assert blob.download_blob().readall() == data
    assert azurite_proxy.plan.count("GET /devstoreaccount1/*/model.bin") == 3
    assert [r.operation.split()[0] for r in azurite_proxy.requests] == ["GET"] * 3


def test_each_test_starts_with_an_empty_account(azurite: AzuriteServer) -> None:
    assert list(azurite.service_client().list_containers()) == []


# --- Azure ML: command jobs ------------------------------------------------------------------


def test_command_job_body_code_upload_and_environment(
    offline: list[str], azureml: AzureMLServer, ml_client: MLClient, code_dir: Path
) -> None:
    created = submit(ml_client, "job-cmd-1", code_dir)
    assert (created.name, created.status) == ("job-cmd-1", "NotStarted")

    [put] = azureml.requests("PUT jobs")
    assert put.path.endswith("/workspaces/mlx-ws/jobs/job-cmd-1")
    props = put.json["properties"]
    assert props["jobType"] == "Command"
    assert props["command"] == COMMAND
    assert props["inputs"] == {
        "lr": {"jobInputType": "literal", "value": "0.01"},
        "train": {"jobInputType": "uri_folder", "uri": TRAIN_URI},
    }
    assert props["outputs"] == {"model": {"jobOutputType": "uri_folder"}}
    assert props["computeId"] == azureml.workspace_arm_id + "/computes/gpu-cluster"
    assert props["resources"]["instanceCount"] == 2
    assert props["distribution"] == {"distributionType": "PyTorch", "processCountPerInstance": 1}
    assert props["experimentName"] == "mlx-tests"

    [env] = azureml.requests("PUT environments")
    assert env.json["properties"]["image"] == "python:3.11-slim"
    assert (
        props["environmentId"] == azureml.workspace_arm_id + env.path.split("/workspaces/mlx-ws")[1]
    )

    # The code went to Azurite over HTTP, through the SAS URL the server handed out.
    [code] = azureml.requests("PUT codes")
    code_uri = code.json["properties"]["codeUri"]
    assert code_uri.startswith(azureml.azurite.url + "/code-")
    container, folder = code_uri[len(azureml.azurite.url) + 1 :].split("/", 1)
    blob = azureml.azurite.service_client().get_blob_client(container, f"{folder}/train.py")
    assert blob.download_blob().readall() == b"print('val_loss=0.5')\n"
    assert props["codeId"] == azureml.workspace_arm_id + code.path.split("/workspaces/mlx-ws")[1]
    # MLClient (built after `offline`), the job submission and the upload stayed local.
    assert offline and set(offline) <= set(LOOPBACK)


def test_unchanged_code_is_not_uploaded_twice(
    azureml: AzureMLServer, ml_client: MLClient, code_dir: Path
) -> None:
    submit(ml_client, "job-code-a", code_dir)
    submit(ml_client, "job-code-b", code_dir)
    assert len(azureml.requests("POST codes/startPendingUpload")) == 1
    first, second = (r.json["properties"]["codeId"] for r in azureml.requests("PUT jobs"))
    assert first == second


def test_get_sees_the_status_the_test_sets(azureml: AzureMLServer, ml_client: MLClient) -> None:
    submit(ml_client, "job-status")
    azureml.set_status("job-status", "Running")
    assert ml_client.jobs.get("job-status").status == "Running"
    azureml.set_status("job-status", "Failed", error="CUDA out of memory")
    assert ml_client.jobs.get("job-status").status == "Failed"
    details = ml_client.jobs._runs_operations.get_run_details("job-status")
    assert details.error.error.message == "CUDA out of memory"
    assert azureml.status_log["job-status"] == ["NotStarted", "Running", "Failed"]


def test_list_follows_pages(azureml: AzureMLServer, ml_client: MLClient) -> None:
    azureml.page_size = 2
    for i in range(5):
        submit(ml_client, f"job-list-{i}")
    names = sorted(job.name for job in ml_client.jobs.list())
    assert names == [f"job-list-{i}" for i in range(5)]
    assert len(azureml.requests("LIST jobs")) == 3


def test_cancel_goes_through_cancel_requested(azureml: AzureMLServer, ml_client: MLClient) -> None:
    submit(ml_client, "job-cancel")
    azureml.set_status("job-cancel", "Running")
    ml_client.jobs.begin_cancel("job-cancel").result()
    assert ml_client.jobs.get("job-cancel").status == "Canceled"
    assert azureml.status_log["job-cancel"] == [
        "NotStarted",
        "Running",
        "CancelRequested",
        "Canceled",
    ]
    assert azureml.plan.calls[-3:-1] == ["POST jobs/cancel", "GET operationResults"]


def test_unknown_job_and_compute_are_errors(azureml: AzureMLServer, ml_client: MLClient) -> None:
    with pytest.raises(ResourceNotFoundError):
        ml_client.jobs.get("no-such-job")
    with pytest.raises(HttpResponseError, match="Compute tiny-cluster not found"):
        submit(ml_client, "job-bad-compute", compute="tiny-cluster")
    assert azureml.jobs == {}


def test_requests_need_a_bearer_token_and_api_version(azureml: AzureMLServer) -> None:
    url = f"{azureml.url}{azureml.workspace_arm_id}/jobs"
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(url + "?api-version=2024-01-01-preview")
    assert denied.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as unversioned:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Bearer x"}))
    assert unversioned.value.code == 400
    assert json.load(unversioned.value)["error"]["code"] == "MissingApiVersionParameter"


# --- Azure ML: the service's rules ----------------------------------------------------------


def _put(server: AzureMLServer, name: str, body: dict[str, Any]) -> tuple[int, str]:
    """PUT ``body`` as job ``name`` over plain HTTP: (status, error message)."""
    url = f"{server.url}{server.workspace_arm_id}/jobs/{name}?api-version=2025-01-01-preview"
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": "Bearer x", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, ""
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)["error"]["message"]


def _changed(body: dict[str, Any], change: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    change(copy["properties"])
    return copy


COMMAND_BREAKS = {
    # azure-ai-ml's REST model: no such field.
    "unknown field": (lambda p: p.update(queueSetings={}), "unknown fields"),
    # azure-ai-ml's CommandJobSchema (load_job): a distribution's count is an integer.
    "schema": (
        lambda p: p["distribution"].update(processCountPerInstance="two"),
        "azure-ai-ml refuses the job",
    ),
    # concept-expressions: the command references what the job defines.
    "expression": (lambda p: p.update(command="python t.py ${{inputs.nope}}"), "inputs.nope"),
    # REST LiteralJobInput.value is a string.
    "literal": (
        lambda p: p["inputs"].update(lr={"jobInputType": "literal", "value": 0.1}),
        "input lr",
    ),
}


@pytest.mark.parametrize("case", sorted(COMMAND_BREAKS))
def test_a_command_job_breaking_a_rule_is_refused(
    azureml: AzureMLServer, ml_client: MLClient, case: str
) -> None:
    submit(ml_client, "job-valid")
    [valid] = azureml.requests("PUT jobs")
    assert _put(azureml, "job-valid-2", valid.json) == (201, "")  # the SDK's body passes as is
    change, message = COMMAND_BREAKS[case]
    status, error = _put(azureml, "job-broken", _changed(valid.json, change))
    assert status == 400 and message in error, error
    assert "job-broken" not in azureml.jobs


SWEEP_BREAKS = {
    # how-to-tune-hyperparameters: max_total_trials 1..1000, max_concurrent_trials 1..100.
    "trials": (lambda p: p["limits"].update(maxTotalTrials=1001), "maxTotalTrials"),
    "concurrent": (lambda p: p["limits"].update(maxConcurrentTrials=101), "maxConcurrentTrials"),
    # "Grid sampling can only be used with choice hyperparameters".
    "grid": (
        lambda p: p.update(samplingAlgorithm={"samplingAlgorithmType": "Grid"}),
        "Grid sampling does not support loguniform",
    ),
    # Bayesian: choice, uniform, quniform only; no early termination.
    "bayesian space": (
        lambda p: p.update(samplingAlgorithm={"samplingAlgorithmType": "Bayesian"}),
        "Bayesian sampling does not support loguniform",
    ),
    "bayesian policy": (
        lambda p: p.update(
            samplingAlgorithm={"samplingAlgorithmType": "Bayesian"},
            searchSpace={"lr": ["uniform", [0.1, 0.2]], "opt": ["choice", [["a", "b"]]]},
            earlyTermination={"policyType": "MedianStopping", "evaluationInterval": 1},
        ),
        "early termination",
    ),
    "search space expression": (
        lambda p: p["trial"].update(command="python t.py ${{search_space.nope}}"),
        "search_space.nope",
    ),
}


@pytest.mark.parametrize("case", sorted(SWEEP_BREAKS))
def test_a_sweep_breaking_a_documented_rule_is_refused(
    azureml: AzureMLServer, ml_client: MLClient, case: str
) -> None:
    ml_client.jobs.create_or_update(_sweep("sweep-valid"))
    [valid] = azureml.requests("PUT jobs")
    change, message = SWEEP_BREAKS[case]
    status, error = _put(azureml, "sweep-broken", _changed(valid.json, change))
    assert status == 400 and message in error, error


def test_state_transitions_follow_the_job_status_enum(
    azureml: AzureMLServer, ml_client: MLClient
) -> None:
    submit(ml_client, "job-states")
    azureml.set_status("job-states", "Running")
    with pytest.raises(ValueError, match="Running cannot become Queued"):
        azureml.set_status("job-states", "Queued")
    # "A run can go from NotResponding to any of the previous states."
    for status in ("NotResponding", "Queued", "Running", "NotResponding", "Running", "Completed"):
        azureml.set_status("job-states", status)
    with pytest.raises(ValueError, match="Completed run is final"):
        azureml.set_status("job-states", "Running")
    assert azureml.status_log["job-states"][-1] == "Completed"


def test_a_job_not_responding_can_be_cancelled(azureml: AzureMLServer, ml_client: MLClient) -> None:
    submit(ml_client, "job-quiet")
    azureml.set_status("job-quiet", "Running")
    azureml.set_status("job-quiet", "NotResponding")
    ml_client.jobs.begin_cancel("job-quiet").result()
    assert azureml.status_log["job-quiet"][-2:] == ["CancelRequested", "Canceled"]


# --- Azure ML: faults ------------------------------------------------------------------------


def test_throttle_then_503_are_retried(azureml: AzureMLServer, ml_client: MLClient) -> None:
    submit(ml_client, "job-retry")
    azureml.plan.add("GET jobs", "throttle")
    azureml.plan.add("GET jobs", "error", status=503)
    started = time.monotonic()
    assert ml_client.jobs.get("job-retry").name == "job-retry"
    assert time.monotonic() - started < 1  # azure-core's default backoff alone is 1.6 s
    assert azureml.plan.count("GET jobs") == 3
    assert [r.status for r in azureml.requests("GET jobs")] == [429, 503, 200]


def test_reset_connection_is_retried(azureml: AzureMLServer, ml_client: MLClient) -> None:
    submit(ml_client, "job-reset")
    azureml.plan.add("GET jobs", "reset", after_bytes=10)
    assert ml_client.jobs.get("job-reset").name == "job-reset"
    assert azureml.plan.count("GET jobs") == 2


def test_workspace_get_points_at_the_server(azureml: AzureMLServer, ml_client: MLClient) -> None:
    azureml.plan.add("GET workspace", "error", status=500)
    ws = ml_client.workspaces.get(azureml.workspace)
    assert ws.discovery_url == f"{azureml.url}/discovery"
    assert ws.mlflow_tracking_uri.startswith("azureml://127.0.0.1:")
    assert azureml.plan.count("GET workspace") == 2


# --- Azure ML: sweeps, child runs and logs ---------------------------------------------------


def _sweep(name: str) -> Any:
    trial = command(
        command="python train.py --lr ${{inputs.lr}} --opt ${{inputs.opt}}",
        environment=Environment(image="python:3.11-slim"),
        compute="cpu-cluster",
        inputs={"lr": 0.01, "opt": "sgd"},
    )
    sweep = trial(lr=LogUniform(-9.2, -4.6), opt=Choice(["sgd", "adam"])).sweep(
        primary_metric="val_loss", goal="minimize", sampling_algorithm="random"
    )
    sweep.name = name
    sweep.set_limits(max_total_trials=4, max_concurrent_trials=2)
    return sweep


def test_sweep_job_and_child_runs(azureml: AzureMLServer, ml_client: MLClient) -> None:
    assert ml_client.jobs.create_or_update(_sweep("sweep-1")).name == "sweep-1"

    props = azureml.requests("PUT jobs")[0].json["properties"]
    assert props["jobType"] == "Sweep"
    assert props["objective"] == {"goal": "minimize", "primaryMetric": "val_loss"}
    assert props["searchSpace"]["lr"] == ["loguniform", [-9.2, -4.6]]
    assert props["limits"]["maxTotalTrials"] == 4
    assert (
        props["trial"]["command"]
        == "python train.py --lr ${{search_space.lr}} --opt ${{search_space.opt}}"
    )

    azureml.add_child_runs("sweep-1", [{"status": "Running"}, {"properties": {"lr": "0.001"}}])
    trials = list(ml_client.jobs.list(parent_job_name="sweep-1"))
    assert [(t.name, t.status) for t in trials] == [
        ("sweep-1_0", "Running"),
        ("sweep-1_1", "Completed"),
    ]
    assert trials[1].properties == {"lr": "0.001"}


def test_child_runs_are_paged_but_the_sdk_reads_one_page(
    azureml: AzureMLServer, ml_client: MLClient
) -> None:
    submit(ml_client, "parent")  # any job can have children in run history
    azureml.add_child_runs("parent", [{} for _ in range(3)])
    azureml.page_size = 2
    # azure-ai-ml 1.35's run-history client drops nextLink: only the first page comes back,
    # so a backend listing hundreds of trials must follow nextLink itself. If this assert
    # fails, the SDK has been fixed.
    listed = [t.name for t in ml_client.jobs.list(parent_job_name="parent")]
    assert listed == ["parent_0", "parent_1"]
    [first] = azureml.requests("GET runs/children")
    page = _get_json(f"{azureml.url}{first.path}?api-version=v1.0")
    rest = _get_json(page["nextLink"])
    runs = [run["runId"] for run in page["value"] + rest["value"]]
    assert runs == ["parent_0", "parent_1", "parent_2"]
    assert page["continuationToken"] == "2" and "nextLink" not in rest


def _get_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": "Bearer x"})
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def test_logs_live_in_azurite_under_the_job_artifact_path(
    azureml: AzureMLServer, ml_client: MLClient
) -> None:
    created = submit(ml_client, "job-logs")
    assert created.outputs["default"].path == (
        "azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.job-logs"
    )
    for rank in (0, 1):
        azureml.write_log(
            "job-logs", f"rank {rank} epoch 1\n", f"user_logs/std_log_process_{rank}.txt"
        )
    azureml.write_log("job-logs", "rank 0 epoch 2\n", "user_logs/std_log_process_0.txt")

    store = ml_client.datastores.get("workspaceartifactstore")
    container = azureml.azurite.service_client().get_container_client(store.container_name)
    names = [b.name for b in container.list_blobs(name_starts_with="ExperimentRun/dcid.job-logs/")]
    assert names == [
        f"ExperimentRun/dcid.job-logs/user_logs/std_log_process_{r}.txt" for r in (0, 1)
    ]

    details = ml_client.jobs._runs_operations.get_run_details("job-logs")
    assert sorted(details.log_files) == [f"user_logs/std_log_process_{r}.txt" for r in (0, 1)]
    with urllib.request.urlopen(details.log_files["user_logs/std_log_process_0.txt"]) as answer:
        assert answer.read() == b"rank 0 epoch 1\nrank 0 epoch 2\n"


def test_fixture_env_reaches_the_same_servers(azureml: AzureMLServer) -> None:
    assert os.environ["MLX_AZURE_ARM_ENDPOINT"] == azureml.url
    metadata = json.loads(os.environ["MLX_AZURE_CLOUD_METADATA"])
    assert metadata["resource_manager"] == azureml.url + "/"
    assert "AZURE_TENANT_ID" not in os.environ and "AZURE_CLIENT_ID" not in os.environ
    client = azureml_client(azureml)
    assert client.datastores.get_default().container_name == azureml.blob_container
    assert os.environ["AZURE_STORAGE_CONNECTION_STRING"] == azureml.azurite.connection_string
