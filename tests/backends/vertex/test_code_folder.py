"""The code folder on Vertex (issue #14, items 6 and 7): what the upload leaves out
(``.mlxignore``, the default skips), and ``requirements.txt`` installed inside the job
before the command — the jobs really run (``vertex_runs``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.backends.vertex.conftest import Gcp, vertex_spec
from tests.conftest import write
from tests.emulators.vertex_runs import VertexRuns

SCRIPT = "print('the script ran')\n"


def litter(code: Path) -> None:
    """What a code folder holds besides the code."""
    for name in (".git/HEAD", "__pycache__/m.pyc", ".pytest_cache/v", "mlruns/0/meta.yaml",
                 "mlflow.db", "notes/draft.md", "data/big.ckpt", "data/keep.ckpt",
                 ".venv/lib/site.py", "env/bin/python"):  # fmt: skip
        write(code / name, "x")
    write(code / "env" / "pyvenv.cfg", "home = /usr/bin\n")
    write(code / ".mlxignore", "notes/\n*.ckpt\n!keep.ckpt\n")


def test_the_upload_honours_mlxignore_and_skips_what_is_not_code(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    spec = vertex_spec(tmp_path)
    litter(tmp_path / "project" / "code")
    result = mlx("train", spec, "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["id"]
    prefix = f"mlx/{job}/mlx/code/"
    assert gcp.objects(prefix) == [
        prefix + name for name in (".mlxignore", "data/keep.ckpt", "train.py")
    ]


def test_requirements_are_installed_in_the_job_before_the_command(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    """The job's Python already has PyYAML (the sandbox's Python is this one): pip runs,
    in the job, and says so before the script's first line."""
    spec = vertex_spec(tmp_path)
    write(tmp_path / "project" / "code" / "train.py", SCRIPT)
    write(tmp_path / "project" / "code" / "requirements.txt", "--no-index\npyyaml\n")
    result = mlx("train", spec, "--json")
    assert result.exit_code == 0, result.stderr
    log = mlx("logs", json.loads(result.stdout)["id"]).stdout
    assert "Requirement already satisfied: pyyaml" in log
    assert log.index("Requirement already satisfied") < log.index("the script ran")


def test_a_failed_install_fails_the_job_with_pips_output(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    spec = vertex_spec(tmp_path)
    write(tmp_path / "project" / "code" / "train.py", SCRIPT)
    write(tmp_path / "project" / "code" / "requirements.txt", "--no-index\nmlx-no-such-dist==1.0\n")
    result = mlx("train", spec, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["state"] == "failed"
    log = mlx("logs", json.loads(result.stdout)["id"]).stdout
    assert "No matching distribution found for mlx-no-such-dist==1.0" in log
    assert "pip install -r requirements.txt failed (exit code 1)" in log
    assert "the script ran" not in log


def test_install_requirements_false_installs_nothing(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    spec = vertex_spec(tmp_path, install_requirements=False)
    write(tmp_path / "project" / "code" / "train.py", SCRIPT)
    write(tmp_path / "project" / "code" / "requirements.txt", "--no-index\nmlx-no-such-dist\n")
    result = mlx("train", spec, "--json")
    assert result.exit_code == 0, result.stderr
    log = mlx("logs", json.loads(result.stdout)["id"]).stdout
    assert "the script ran" in log and "pip" not in log
