"""Shared fixtures: every test gets its own MLX_HOME and a plain, fixed-width terminal."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLX_HOME", str(tmp_path / "mlx-home"))
    monkeypatch.setenv("MLX_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "dumb")
    for name in ("MLX_PROVIDER", "MLX_PROFILE", "MLX_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def mlx(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run the real ``mlx`` entry point in-process: ``mlx("jobs", "--json")``."""
    from mlx.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["mlx", *map(str, args)])
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a real ``mlx`` subprocess (the test's MLX_HOME included)."""
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env
