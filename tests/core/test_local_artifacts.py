"""A local job's artifacts are its own files (issue 16, item 11): links the job leaves are
never followed (a warning names them), an artifacts folder swapped for a link is refused,
and names with control characters are escaped when listed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlx.backends.local.backend import LocalBackend
from mlx.errors import BackendError
from mlx.model import Artifact
from tests.conftest import write


def run_job(mlx: Any, tmp_path: Path, script: str, extra: str = "") -> str:
    write(tmp_path / "train.py", script)
    spec = write(tmp_path / "job.yaml", "name: arts\ncommand: python train.py\n" + extra)
    result = mlx("train", spec, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["id"]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files of this user that no job's artifacts should ever reach."""
    write(tmp_path / "outside" / "secret.txt", "not an artifact\n")
    return tmp_path / "outside"


def test_an_artifacts_folder_replaced_by_a_link_is_refused(
    mlx: Any, tmp_path: Path, outside: Path
) -> None:
    job = run_job(
        mlx,
        tmp_path,
        "import os, shutil\n"
        "artifacts = os.path.dirname(os.environ['MLX_MODEL_DIR'])\n"
        "shutil.rmtree(artifacts)\n"
        f"os.symlink({str(outside)!r}, artifacts)\n",
    )
    link = Path(os.environ["MLX_HOME"]) / "jobs" / job / "artifacts"
    expected = [
        f"Error: {link} is a symbolic link (to {outside}); mlx does not follow it",
        "Hint: A local job's artifacts are the files inside its own folder; the job replaced "
        "that folder with a link.",
    ]
    for args in (["--list"], ["--dest", str(tmp_path / "pulled")]):
        result = mlx("pull-artifacts", job, *args)
        assert result.exit_code == 1
        assert result.stderr.splitlines() == expected
    assert not (tmp_path / "pulled").exists()


def test_links_inside_artifacts_are_skipped_with_a_warning(
    mlx: Any, tmp_path: Path, outside: Path
) -> None:
    job = run_job(
        mlx,
        tmp_path,
        "import os\n"
        "model = os.environ['MLX_MODEL_DIR']\n"
        "open(os.path.join(model, 'real.txt'), 'w').write('mine')\n"
        f"os.symlink({str(outside / 'secret.txt')!r}, os.path.join(model, 'link.txt'))\n"
        f"os.symlink({str(outside)!r}, os.path.join(model, 'linked-dir'))\n",
        extra=f"outputs: {{model: {tmp_path / 'copied'}}}\n",
    )
    warning = (
        f"Warning: skipped 2 link(s) or special file(s) in the artifacts of {job}, which mlx "
        "never follows or copies: model/link.txt, model/linked-dir"
    )
    listed = mlx("pull-artifacts", job, "--list", "--json")
    assert [a["path"] for a in json.loads(listed.stdout)] == ["model/real.txt"]
    assert listed.stderr.splitlines() == [warning]
    pulled = mlx("pull-artifacts", job, "--dest", tmp_path / "pulled")
    assert pulled.exit_code == 0, pulled.stderr
    assert pulled.stderr.splitlines()[0] == warning
    assert sorted(p.name for p in (tmp_path / "pulled").rglob("*")) == ["model", "real.txt"]
    # The spec's `outputs:` copy skips them too, and says so in the job's log.
    assert sorted(p.name for p in (tmp_path / "copied").iterdir()) == ["real.txt"]
    log = mlx("logs", job).stdout
    assert "[mlx] not copying " in log and "link.txt: a symbolic link" in log


def test_a_link_swapped_in_after_the_listing_is_not_followed(tmp_path: Path, outside: Path) -> None:
    backend = LocalBackend(tmp_path / "home")
    from mlx.model import JobRecord, JobState

    record = JobRecord("swap-aaaaaa", "local", "swap", JobState.SUCCEEDED, {}, 0.0, 0.0)
    model = write(backend.job_dir(record.id) / "artifacts" / "model" / "secret.txt", "mine")
    (listed,) = backend.list_artifacts(record)
    assert listed == Artifact("model/secret.txt", 4, modified=listed.modified)
    model.unlink()
    model.parent.rmdir()
    os.symlink(outside, model.parent)  # model/ now points outside
    with pytest.raises(BackendError, match="became a symbolic link after it was listed"):
        backend.download(record, listed, tmp_path / "target", lambda n: None)


def test_control_characters_in_names_are_escaped_when_listed(mlx: Any, tmp_path: Path) -> None:
    job = run_job(
        mlx,
        tmp_path,
        "import os\n"
        "name = 'evil\\x1b[2J\\x1b[31mred\\rover\\u202egnp.exe'\n"
        "open(os.path.join(os.environ['MLX_MODEL_DIR'], name), 'w').write('x')\n",
    )
    listed = mlx("pull-artifacts", job, "--list")
    assert listed.exit_code == 0
    assert "\x1b" not in listed.stdout and "\r" not in listed.stdout
    assert "\u202e" not in listed.stdout
    assert "model/evil\\x1b[2J\\x1b[31mred\\x0dover\\u202egnp.exe" in listed.stdout
    raw = json.loads(mlx("pull-artifacts", job, "--list", "--json").stdout)
    assert raw[0]["path"] == "model/evil\x1b[2J\x1b[31mred\rover\u202egnp.exe"  # JSON escapes it
