"""Shared fixtures: every test gets its own MLX_HOME and a plain, fixed-width terminal."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Fixtures of the test servers (each imports its SDKs only inside fixtures).
pytest_plugins = [
    "tests.emulators.aws_fixtures",
    "tests.emulators.azure_fixtures",
    "tests.emulators.gcp_fixtures",
]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path / "mlx-home"
    monkeypatch.setenv("MLX_HOME", str(home))
    monkeypatch.setenv("MLX_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "dumb")
    for name in ("MLX_PROVIDER", "MLX_PROFILE", "MLX_DEBUG", "MLX_PACING"):
        monkeypatch.delenv(name, raising=False)
    yield
    _stop_leftovers(home)
    # Backends and their clients live as long as the process; each test starts afresh.
    from mlx import providers

    providers.reset()


def _stop_leftovers(home: Path) -> None:
    """Stop what a test started: local supervisors, drivers and nodes of its MLX_HOME that
    still run (a detached job the test did not wait for), and every process they started
    (a sandboxed container's command names no MLX_HOME path: its paths are the chroot's)."""
    marker = str(home).encode()
    parents: dict[int, int] = {}
    started = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if marker in (proc / "cmdline").read_bytes():
                started.append(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue
    doomed = set(started)
    while True:
        more = {pid for pid, parent in parents.items() if parent in doomed} - doomed
        if not more:
            break
        doomed |= more
    for pid in doomed:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


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


def readme_spec() -> str:
    """The YAML example under "## The job spec" in the README (the tests translate it for
    every provider)."""
    import re

    text = (REPO / "README.md").read_text()
    section = text[text.index("## The job spec") :]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match
    return match.group(1)


def readme_project(root: Path) -> Path:
    """The README's spec example in ``root``, with the files its `code` and local input
    name; the spec's path."""
    write(root / "src" / "train.py", "print('training')\n")
    write(root / "data" / "test.csv", "a,b\n1,2\n")
    return write(root / "job.yaml", readme_spec())
