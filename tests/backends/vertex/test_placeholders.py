"""Placeholders and booleans on Vertex AI, the jobs really run by the test servers
(``vertex_runs``): the script checks each path inside the container."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backends.bool_scripts import STORE_TRUE
from tests.backends.contract import started
from tests.backends.placeholders import check_seen, project, pulled
from tests.backends.vertex.conftest import BUCKET, IMAGE, SETTINGS, Gcp
from tests.conftest import write
from tests.emulators.vertex_runs import VertexRuns


def spec_file(root: Path, **fields: Any) -> Path:
    doc = {"name": "ph", "provider": "vertex", "image": IMAGE, **project(root)}
    doc.update(vertex=dict(SETTINGS), **fields)
    return write(root / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def test_every_placeholder_is_a_path_under_the_gcs_mount(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    result = mlx("train", spec_file(tmp_path / "project"))
    assert result.exit_code == 0, result.stdout + result.stderr
    job = started(result.stderr)
    files = pulled(mlx, job, tmp_path / "pulled")
    opts = check_seen(json.loads(files["model/seen-0.json"].read_text()), job)
    mount = f"/gcs/{BUCKET}/mlx/"
    assert opts["--data"].startswith(mount + "inputs/")
    assert opts["--dir"].startswith(mount + "inputs/")
    # Vertex's AIP_MODEL_DIR and AIP_CHECKPOINT_DIR, as paths under the mount.
    assert opts["--model"] == f"{mount}{job}/model"
    assert opts["--ckpt"] == f"{mount}{job}/checkpoints"
    assert files["checkpoints/written-0.txt"].read_text() == "--ckpt"
    assert files["output/written-0.txt"].read_text() == "--out"


@pytest.mark.parametrize("chosen", [True, False])
def test_a_tuned_boolean_reaches_a_store_true_script_as_a_flag(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path, chosen: bool
) -> None:
    """Vertex's tuner appends --amp=true or --amp=false; the trial's argv is the flag or
    nothing (`bool_style: flag`), and `${{name}}` is the trial's mlx id. (The test server's
    stand-in for Vertex's search samples at random, seeded by the job's id: each value is
    made certain by a choice of that one value.)"""
    write(tmp_path / "project" / "code" / "job.py", STORE_TRUE)
    doc = {
        "name": "bools",
        "provider": "vertex",
        "image": IMAGE,
        "command": "python job.py --run ${{name}}",
        "code": "./code",
        "hyperparameters": {"shrinking": True},
        "metrics": [{"name": "loss"}],
        "tune": {
            "objective": {"metric": "loss", "goal": "minimize"},
            "algorithm": "random",
            "max_trials": 2,
            "parameters": {"amp": {"type": "choice", "values": [chosen]}},
        },
        "vertex": dict(SETTINGS),
    }
    path = write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))
    result = mlx("tune", path, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [t["params"]["amp"] for t in summary["trials"]] == [chosen, chosen]
    for trial in summary["trials"]:
        number, amp = trial["number"], trial["params"]["amp"]
        dest = tmp_path / f"trial-{number}"
        files = pulled(mlx, summary["id"], dest, "--trial", str(number), "--include", "model/*")
        seen = json.loads(files["model/seen.json"].read_text())
        run = f"{summary['id']}-t{number}"
        assert seen["argv"] == ["--run", run, "--shrinking", *(["--amp"] if amp else [])]
        assert (seen["amp"], seen["shrinking"], seen["run"]) == (amp, True, run)
