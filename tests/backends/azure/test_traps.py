"""What executing Azure ML jobs exposed (issue #12, item 5), each proven through the CLI on
the test server running the job with mlx's Azure ML runner (sandbox runtime)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.backends.contract import started
from tests.conftest import write

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# Each process records what it saw; node 0 also writes a checkpoint, as does every node.
SCRIPT = """
import json, os
rank = os.environ["MLX_NODE_RANK"]
names = ("WORLD_SIZE", "RANK", "NODE_RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
seen = {k: os.environ.get(k) for k in names}
name = "seen-%s-%s.json" % (rank, seen["LOCAL_RANK"])
with open(os.path.join(os.environ["MLX_MODEL_DIR"], name), "w") as f:
    json.dump(seen, f)
with open(os.path.join(os.environ["MLX_CHECKPOINT_DIR"], "ckpt.txt"), "w") as f:
    f.write("node " + rank)
print("done on node", rank, flush=True)
"""


@pytest.fixture
def executing(azure: Azure, tmp_path: Path) -> Azure:
    azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")
    return azure


def project(tmp_path: Path, files: dict[str, str] | None = None, **fields: Any) -> Path:
    write(tmp_path / "project" / "code" / "job.py", SCRIPT)
    for name, text in (files or {}).items():
        write(tmp_path / "project" / "code" / name, text)
    doc = {
        "name": "traps",
        "provider": "azure",
        "image": IMAGE,
        "command": "python job.py",
        "code": "./code",
        "azure": dict(SETTINGS),
        **fields,
    }
    return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def listed(mlx: Any, job: str) -> list[str]:
    result = mlx("pull-artifacts", job, "--list", "--json")
    assert result.exit_code == 0, result.stderr
    return sorted(a["path"] for a in json.loads(result.stdout))


@pytest.mark.parametrize(
    "files",
    [
        {".gitignore": "*.pyz\n"},
        {".gitignore": ".*\n"},
        {".amlignore": ".*\n*.pyz\n", ".gitignore": "nothing\n"},
    ],
    ids=["gitignore-pyz", "gitignore-dot", "amlignore"],
)
def test_the_bootstrap_survives_any_ignore_file(
    executing: Azure, mlx: Any, tmp_path: Path, files: dict[str, str]
) -> None:
    spec = project(tmp_path, files)
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "done on node 0" in result.stdout
    # The user's own rules still apply to their files, and their folder is untouched.
    assert sorted(p.name for p in (tmp_path / "project" / "code").iterdir()) == sorted(
        ["job.py", *files]
    )


def test_pull_artifacts_finds_what_the_job_wrote_to_a_custom_output(
    executing: Azure, mlx: Any, tmp_path: Path
) -> None:
    custom = "azureml://datastores/workspaceblobstore/paths/elsewhere/models/"
    spec = project(tmp_path, outputs={"model": custom})
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stderr
    job = started(result.stderr)
    blobs = [b.name for b in executing.blobs().list_blobs(name_starts_with="elsewhere/")]
    assert blobs == ["elsewhere/models/seen-0-0.json"]  # where Azure ML put it
    assert "model/seen-0-0.json" in listed(mlx, job)
    dest = tmp_path / "pulled"
    pulled = mlx("pull-artifacts", job, "--include", "model/*", "--dest", dest)
    assert pulled.exit_code == 0, pulled.stderr
    assert json.loads((dest / "model" / "seen-0-0.json").read_text())["RANK"] == "0"


def test_two_gpu_nodes_run_one_process_each_with_their_own_checkpoints(
    executing: Azure, mlx: Any, tmp_path: Path
) -> None:
    spec = project(tmp_path, resources={"nodes": 2, "accelerator": "V100:2"})
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stderr
    job = started(result.stderr)
    paths = listed(mlx, job)
    # One process per node, as local runs it (torchrun starts one per GPU where wanted).
    assert [p for p in paths if p.startswith("model/")] == [
        "model/seen-0-0.json",
        "model/seen-1-0.json",
    ]
    assert [p for p in paths if p.startswith("checkpoints/")] == [
        "checkpoints/node-0/ckpt.txt",
        "checkpoints/node-1/ckpt.txt",
    ]
    dest = tmp_path / "pulled"
    assert mlx("pull-artifacts", job, "--dest", dest).exit_code == 0
    for node in (0, 1):
        seen = json.loads((dest / "model" / f"seen-{node}-0.json").read_text())
        assert (seen["WORLD_SIZE"], seen["RANK"], seen["NODE_RANK"]) == ("2", str(node), str(node))
        assert seen["LOCAL_RANK"] == "0" and seen["MASTER_ADDR"] and seen["MASTER_PORT"]
        assert (dest / "checkpoints" / f"node-{node}" / "ckpt.txt").read_text() == f"node {node}"


def test_a_sweep_refuses_an_output_path_every_trial_would_share(mlx: Any, tmp_path: Path) -> None:
    shared = "azureml://datastores/workspaceblobstore/paths/elsewhere/models/"
    tune = {
        "objective": {"metric": "loss", "goal": "minimize"},
        "parameters": {"x": {"type": "float", "min": 0.0, "max": 1.0}},
    }
    spec = project(tmp_path, outputs={"model": shared}, metrics=[{"name": "loss"}], tune=tune)
    refused = mlx("translate", spec, "--tune")
    assert refused.exit_code == 1
    assert "every trial of an Azure ML sweep would write to" in refused.stderr
    own = mlx(
        "translate", spec, "--tune", "--json", "--set", f"outputs.model={shared}${{{{name}}}}/"
    )
    assert own.exit_code == 0, own.stderr
    model = json.loads(own.stdout)["request"]["outputs"]["model"]
    assert model["path"] == shared + "${{name}}/"


def test_a_rehearsal_uploads_the_code_as_azure_ai_ml_does(mlx: Any, tmp_path: Path) -> None:
    """`--rehearse` stages the snapshot by the SDK's own ignore rule, bootstrap included."""
    spec = project(tmp_path, {".gitignore": ".*\nsecret.txt\n", "secret.txt": "no"})
    result = mlx("train", spec, "--rehearse")
    assert result.exit_code == 0, result.stderr
    job = started(result.stderr)
    assert "done on node 0" in mlx("logs", job).stdout
    assert listed(mlx, job) == ["checkpoints/ckpt.txt", "model/seen-0-0.json"]
    uploads = Path(os.environ["MLX_HOME"]) / "rehearsal" / "buckets" / "azureml"
    (code,) = (uploads / "workspaceblobstore" / "LocalUpload").glob("*/code")
    uploaded = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
    assert uploaded == [".mlx/mlx-bootstrap.pyz", "job.py"]  # the user's rules kept
