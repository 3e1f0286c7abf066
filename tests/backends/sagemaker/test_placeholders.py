"""Placeholders and booleans on SageMaker, the job really run by the test server (mlx's
runner, sandbox runtime): the script checks each path inside the container."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import yaml

from tests.backends.bool_scripts import STRTOBOOL
from tests.backends.contract import started
from tests.backends.placeholders import check_seen, project
from tests.backends.sagemaker.conftest import IMAGE, SETTINGS
from tests.conftest import write
from tests.emulators.aws import AwsServer


def spec_file(root: Path, **fields: Any) -> Path:
    doc = {"name": "ph", "provider": "sagemaker", "image": IMAGE, **project(root)}
    doc.update(sagemaker=dict(SETTINGS), **fields)
    return write(root / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def pulled(mlx: Any, job: str, dest: Path, *flags: str) -> dict[str, Any]:
    result = mlx("pull-artifacts", job, *flags, "--dest", dest)
    assert result.exit_code == 0, result.stderr
    return {p.relative_to(dest).as_posix(): p for p in dest.rglob("*") if p.is_file()}


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
    write(tmp_path / "project" / "code" / "job.py", STRTOBOOL)
    doc = {
        "name": "bools",
        "provider": "sagemaker",
        "image": IMAGE,
        "command": "python job.py --run ${{name}}",
        "code": "./code",
        "hyperparameters": {"shrinking": False},
        "bool_style": "value",
        "metrics": [{"name": "loss"}],
        "tune": {
            "objective": {"metric": "loss", "goal": "minimize"},
            "algorithm": "grid",
            "max_trials": 2,
            "parameters": {"amp": {"type": "choice", "values": [True, False]}},
        },
        "sagemaker": dict(SETTINGS),
    }
    path = write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))
    result = mlx("tune", path, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {t["params"]["amp"] for t in summary["trials"]} == {True, False}
    for trial in summary["trials"]:
        number, amp = trial["number"], trial["params"]["amp"]
        dest = tmp_path / f"trial-{number}"
        files = pulled(mlx, summary["id"], dest, "--trial", str(number), "--include", "model/*")
        seen = json.loads(files["model/seen.json"].read_text())
        run = f"{summary['id']}-t{number}"
        assert seen["argv"] == ["--run", run, "--shrinking", "False", "--amp", str(amp)]
        assert (seen["amp"], seen["shrinking"], seen["run"]) == (amp, False, run)
    assert summary["best"]["params"] == {"amp": True}
