"""Shell completion: installed for bash, zsh and fish; job ids complete from the store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlx.model import JobKind, JobRecord, JobState
from mlx.store import Store
from tests.conftest import subprocess_env


def stored(*ids: str, kind: JobKind = JobKind.TRAINING) -> None:
    store = Store.default()
    for n, job_id in enumerate(ids):
        now = time.time() + n
        store.insert(JobRecord(job_id, "local", "x", JobState.SUCCEEDED, {}, now, now, kind=kind))


@pytest.mark.parametrize(
    ("shell", "file", "line"),
    [
        ("bash", ".bash_completions/mlx.sh", "_MLX_COMPLETE=complete_bash"),
        ("zsh", ".zfunc/_mlx", "_MLX_COMPLETE=complete_zsh"),
        ("fish", ".config/fish/completions/mlx.fish", "_MLX_COMPLETE=complete_fish"),
    ],
)
def test_install_completion_writes_the_shell_script(
    mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shell: str, file: str, line: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")  # name the shell
    result = mlx("--install-completion", shell)
    assert result.exit_code == 0, result.stderr
    assert f"{shell} completion installed" in result.stdout
    assert line in (tmp_path / file).read_text()


def test_job_ids_complete_newest_first_without_trials(
    mlx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored("iris-aaaaaa", "iris-bbbbbb", "other-cccccc")
    stored("iris-bbbbbb-t1", kind=JobKind.TRIAL)
    monkeypatch.setenv("_MLX_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "mlx status iri")
    monkeypatch.setenv("COMP_CWORD", "2")
    result = mlx()
    assert result.exit_code == 0
    assert result.stdout.split() == ["iris-bbbbbb", "iris-aaaaaa"]


def test_completion_without_a_store_creates_none(
    mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_MLX_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "mlx logs ")
    monkeypatch.setenv("COMP_CWORD", "2")
    result = mlx()
    assert (result.exit_code, result.stdout.strip(), result.stderr) == (0, "", "")
    assert not (tmp_path / "mlx-home").exists()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_a_job_id_through_the_installed_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script the user sources, run by a real bash calling the real ``mlx``."""
    stored("iris-aaaaaa", "other-cccccc")
    env = subprocess_env(HOME=str(tmp_path), _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    mlx_cmd = [sys.executable, "-m", "mlx"]
    subprocess.run([*mlx_cmd, "--install-completion", "bash"], env=env, check=True)
    script = tmp_path / ".bash_completions" / "mlx.sh"
    driver = (
        f"source {script}\n"
        "COMP_WORDS=(mlx pull-artifacts ir); COMP_CWORD=2\n"
        "_mlx_completion mlx\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", driver], env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["iris-aaaaaa"], done.stderr
