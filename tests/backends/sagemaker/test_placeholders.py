"""Placeholders and booleans on SageMaker, the job really run by the test server (mlx's
runner, sandbox runtime): the script checks each path inside the container."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import yaml

from tests.backends.contract import started
from tests.backends.placeholders import check_seen, project, pulled, tuned_strtobool
from tests.backends.sagemaker.conftest import IMAGE, SETTINGS
from tests.conftest import write
from tests.emulators.aws import AwsServer


def spec_file(root: Path, **fields: Any) -> Path:
    doc = {"name": "ph", "provider": "sagemaker", "image": IMAGE, **project(root)}
    doc.update(sagemaker=dict(SETTINGS), **fields)
    return write(root / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def test_every_placeholder_is_the_containers_own_path(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.execute_jobs()
    result = mlx("train", spec_file(tmp_path / "project"))
    assert result.exit_code == 0, result.stdout + result.stderr
    job = started(result.stderr)
    files = pulled(mlx, job, tmp_path / "pulled")
    opts = check_seen(json.loads(files["model/seen-0.json"].read_text()), job)
    assert opts == {
        "--data": "/opt/ml/input/data/train/train.csv",
        "--dir": "/opt/ml/input/data/folder",
        "--model": "/opt/ml/model",
        "--ckpt": "/opt/ml/checkpoints",
        "--out": "/opt/ml/output/data",
    }
    assert files["checkpoints/written-0.txt"].read_text() == "--ckpt"
    with tarfile.open(files["output/output.tar.gz"]) as archive:
        assert archive.getnames() == ["written-0.txt"]


def test_each_node_gets_its_own_checkpoint_folder(mlx: Any, sm: AwsServer, tmp_path: Path) -> None:
    sm.execute_jobs()
    result = mlx("train", spec_file(tmp_path / "project", resources={"nodes": 2}))
    assert result.exit_code == 0, result.stdout + result.stderr
    job = started(result.stderr)
    files = pulled(mlx, job, tmp_path / "pulled")
    for rank in (0, 1):
        opts = check_seen(json.loads(files[f"model/seen-{rank}.json"].read_text()), job)
        assert opts["--ckpt"] == f"/opt/ml/checkpoints/node-{rank}"
        assert files[f"checkpoints/node-{rank}/written-{rank}.txt"].read_text() == "--ckpt"


def test_a_tuned_boolean_reaches_a_strtobool_script_as_true_or_false(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    """SageMaker's tuner picks the categorical "true"/"false"; each trial's argv follows
    `bool_style: value`, and `${{name}}` is the trial's mlx id."""
    sm.execute_jobs()
    tuned_strtobool(
        mlx, tmp_path, {"provider": "sagemaker", "image": IMAGE, "sagemaker": dict(SETTINGS)}
    )
