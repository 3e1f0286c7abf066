"""``azure:<name>``: status, logs and artifacts of a job mlx did not launch (created here
through azure-ai-ml, as ``az ml job create`` would)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.backends.azure.conftest import IMAGE, Azure
from tests.emulators.azure_fixtures import azureml_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # azure-ai-ml


def create_their_job(azure: Azure, tmp_path: Path) -> str:
    """A command job of someone else's (no mlx tag, no mlx layout), with a named output."""
    from azure.ai.ml import Output, command
    from azure.ai.ml.entities import Environment

    code = tmp_path / "their-code"
    code.mkdir()
    (code / "train.py").write_text("print('hi')\n")
    job = command(
        command="python train.py --out ${{outputs.model}}",
        code=str(code),
        environment=Environment(image=IMAGE),
        compute="gpu-cluster",
        outputs={"model": Output(type="uri_folder")},
        display_name="their-training",
    )
    created = azureml_client(azure.server).jobs.create_or_update(job)
    return str(created.name)


def test_status_logs_and_artifacts_of_a_job_mlx_did_not_launch(
    mlx: Any, azure: Azure, tmp_path: Path
) -> None:
    name = create_their_job(azure, tmp_path)
    azure.server.set_status(name, "Completed")
    azure.log(name, ["epoch 1 loss=0.5", "epoch 2 loss=0.25"])
    store = azure.server.azurite.service_client()
    store.get_container_client(azure.server.artifact_container).upload_blob(
        f"ExperimentRun/dcid.{name}/outputs/report.txt", b"their report"
    )
    azure.blobs().upload_blob(f"azureml/{name}/model/weights.bin", b"w" * 10)

    status = mlx("status", f"azure:{name}", "--json")
    assert status.exit_code == 0, status.stderr
    shown = json.loads(status.stdout)
    assert (shown["state"], shown["native_id"]) == ("succeeded", name)

    logs = mlx("logs", f"azure:{name}")
    assert logs.exit_code == 0, logs.stderr
    assert logs.stdout.splitlines() == ["epoch 1 loss=0.5", "epoch 2 loss=0.25"]

    listed = mlx("pull-artifacts", f"azure:{name}", "--list", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [a["path"] for a in json.loads(listed.stdout)] == [
        "model/weights.bin",
        "outputs/report.txt",
    ]
    pulled = mlx("pull-artifacts", f"azure:{name}", "-i", "model", "--dest", tmp_path / "got")
    assert pulled.exit_code == 0, pulled.stderr
    assert (tmp_path / "got" / "model" / "weights.bin").read_bytes() == b"w" * 10


def test_an_unknown_name_is_one_line(mlx: Any, azure: Azure) -> None:
    result = mlx("status", "azure:no-such-job")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Azure ML has no job 'no-such-job' in workspace ")


def test_remote_lists_the_workspaces_jobs_with_mlx_jobs_marked(
    mlx: Any, azure: Azure, tmp_path: Path
) -> None:
    from tests.backends.azure.conftest import azure_spec

    theirs = create_their_job(azure, tmp_path)
    mine = mlx("train", azure_spec(tmp_path), "--detach", "--json")
    assert mine.exit_code == 0, mine.stderr
    mlx_id = json.loads(mine.stdout)["id"]
    listed = mlx("jobs", "-p", "azure", "--remote", "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = {row["native_id"]: row for row in json.loads(listed.stdout)}
    assert rows[theirs]["mlx_id"] is None and rows[theirs]["name"] == "their-training"
    assert rows[mlx_id]["mlx_id"] == mlx_id
