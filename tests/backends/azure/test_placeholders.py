"""Placeholders and booleans on Azure ML, the jobs really run by the test server (mlx's
Azure ML runner, sandbox runtime): Azure substitutes the inputs and outputs into the
command itself; the bootstrap resolves ``${{name}}`` and a node's own checkpoint folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.backends.contract import started
from tests.backends.placeholders import check_seen, project, pulled, tuned_strtobool
from tests.conftest import write

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def executing(azure: Azure, tmp_path: Path) -> Azure:
    azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")
    return azure


def spec_file(azure: Azure, root: Path, **fields: Any) -> Path:
    """The placeholders project with its local inputs (mlx uploads them to the datastore)."""
    doc = {"name": "ph", "provider": "azure", "image": IMAGE, **project(root)}
    doc.update(azure=dict(SETTINGS), **fields)
    return write(root / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def test_every_placeholder_is_azures_own_mount(executing: Azure, mlx: Any, tmp_path: Path) -> None:
    result = mlx("train", spec_file(executing, tmp_path / "project"))
    assert result.exit_code == 0, result.stdout + result.stderr
    job = started(result.stderr)
    files = pulled(mlx, job, tmp_path / "pulled")
    opts = check_seen(json.loads(files["model/seen-0.json"].read_text()), job)
    # The paths Azure ML substituted for ${{inputs.train}} (a uri_file: the file itself),
    # ${{inputs.folder}} and ${{outputs.model}}.
    mounts = f"/mnt/azureml/cr/j/{job}/cap/data-capability/wd"
    assert opts["--data"] == f"{mounts}/INPUT_train/train.csv"
    assert opts["--dir"] == f"{mounts}/INPUT_folder"
    assert (opts["--model"], opts["--out"]) == (f"{mounts}/model", f"{mounts}/output")
    assert files["checkpoints/written-0.txt"].read_text() == "--ckpt"
    assert files["output/written-0.txt"].read_text() == "--out"


def test_each_node_gets_its_own_checkpoint_folder(
    executing: Azure, mlx: Any, tmp_path: Path
) -> None:
    result = mlx("train", spec_file(executing, tmp_path / "project", resources={"nodes": 2}))
    assert result.exit_code == 0, result.stdout + result.stderr
    job = started(result.stderr)
    files = pulled(mlx, job, tmp_path / "pulled")
    mounts = f"/mnt/azureml/cr/j/{job}/cap/data-capability/wd"
    for rank in (0, 1):
        opts = check_seen(json.loads(files[f"model/seen-{rank}.json"].read_text()), job)
        assert opts["--ckpt"] == f"{mounts}/checkpoints/node-{rank}"
        assert files[f"checkpoints/node-{rank}/written-{rank}.txt"].read_text() == "--ckpt"


def test_a_tuned_boolean_reaches_a_strtobool_script_in_every_trial(
    executing: Azure, mlx: Any, tmp_path: Path
) -> None:
    """The sweep samples the boolean by position (``choice`` over [0, 1]); each trial's argv
    follows `bool_style: value`, and `${{name}}` is the trial's mlx id."""
    tuned_strtobool(mlx, tmp_path, {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)})
