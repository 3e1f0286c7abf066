"""One progress display for uploads and downloads (bytes, rate, time left) on stderr, fed
by the SDKs' callbacks, on the emulated clouds; stdout keeps only the JSON with ``--json``.

``terminal`` runs the real ``mlx`` in a process whose stderr Rich takes for a user's terminal
(``TTY_COMPATIBLE``, ``TTY_INTERACTIVE``).
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

# The providers' fixtures, registered here by importing them (their conftests are beside
# their own tests).
from tests.backends.azure.conftest import azure  # noqa: F401
from tests.backends.sagemaker.conftest import sagemaker_spec, sm  # noqa: F401
from tests.backends.vertex.conftest import Gcp, gcp, vertex_spec  # noqa: F401
from tests.conftest import Result, subprocess_env, write
from tests.emulators.aws import AwsServer

SIZE = 3_000_000  # Rich shows decimal megabytes
FRAME = re.compile(r"(\d+\.\d) MB/s")  # Rich's DownloadColumn and TransferSpeedColumn


@pytest.fixture
def sagemaker_cloud(request: pytest.FixtureRequest) -> AwsServer:
    """The SageMaker tests' server (their ``sm`` fixture)."""
    found: AwsServer = request.getfixturevalue("sm")
    return found


@pytest.fixture
def vertex_cloud(request: pytest.FixtureRequest) -> Gcp:
    """The Vertex tests' servers (their ``gcp`` fixture)."""
    found: Gcp = request.getfixturevalue("gcp")
    return found


@pytest.fixture
def terminal() -> Callable[..., Result]:
    """Run the real ``mlx`` in a process whose stderr Rich takes for an interactive
    terminal (it decides once, when its console is made): the servers' endpoints are in
    the environment the test set."""

    def run(*args: Any) -> Result:
        # stderr is a real pseudo-terminal (every Rich release takes it for one; Rich 14's
        # TTY_* variables say the same to the releases that read them); stdout a pipe.
        env = subprocess_env(TTY_COMPATIBLE="1", TTY_INTERACTIVE="1", TERM="xterm", COLUMNS="100")
        master, slave = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "mlx", *map(str, args)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        errors = bytearray()
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            errors += chunk
        os.close(master)
        assert process.stdout is not None
        out = process.stdout.read().decode()
        code = process.wait(timeout=300)
        return Result(code, out, errors.decode(errors="replace").replace("\r\n", "\n"))

    return run


def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "data" / "big.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(SIZE))
    return path


def test_staging_upload_shows_bytes_rate_and_time_left(
    mlx: Any, sagemaker_cloud: AwsServer, tmp_path: Path, terminal: Callable[..., Result]
) -> None:
    data_file(tmp_path)
    spec = sagemaker_spec(tmp_path, inputs={"train": "./data/big.bin"})
    result = terminal("train", spec, "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)  # stdout is the JSON document alone
    assert "Uploading 2 files" in result.stderr  # the input and the code
    assert "/3.0 MB" in result.stderr  # bytes done of the total
    assert FRAME.search(result.stderr), result.stderr[-2000:]  # a rate
    assert re.search(r"\d:\d\d:\d\d", result.stderr)  # time left / elapsed


def test_vertex_upload_counts_the_bytes_the_sdk_reads(
    mlx: Any, vertex_cloud: Gcp, tmp_path: Path, terminal: Callable[..., Result]
) -> None:
    data_file(tmp_path)
    spec = vertex_spec(tmp_path, inputs={"train": "./data/big.bin"})
    result = terminal("train", spec, "--detach")
    assert result.exit_code == 0, result.stderr
    assert "Uploading 2 files" in result.stderr
    assert "3.0/3.0 MB" in result.stderr  # all of it, counted once


def test_second_submit_sends_nothing_and_shows_nothing(
    mlx: Any, sagemaker_cloud: AwsServer, tmp_path: Path, terminal: Callable[..., Result]
) -> None:
    data_file(tmp_path)
    spec = sagemaker_spec(tmp_path, inputs={"train": "./data/big.bin"})
    assert mlx("train", spec, "--detach").exit_code == 0
    again = terminal("train", spec, "--detach")
    assert again.exit_code == 0, again.stderr
    assert "Uploading" not in again.stderr


# Azure's pull: test_azure_input_upload_and_pull_show_the_same_display.
@pytest.mark.parametrize("provider", ["sagemaker", "vertex"])
def test_pull_shows_the_same_display_and_json_stays_clean(
    mlx: Any,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    provider: str,
    terminal: Callable[..., Result],
) -> None:
    """A job whose script writes a 3 MB model, pulled with the display; then with --json."""
    script = (
        "import os\nopen(os.path.join(os.environ['MLX_MODEL_DIR'], 'w.bin'), 'wb')"
        f".write(os.urandom({SIZE}))\n"
    )
    if provider == "sagemaker":
        request.getfixturevalue("sm").execute_jobs()
        spec = sagemaker_spec(tmp_path)
    else:
        request.getfixturevalue("gcp")
        request.getfixturevalue("vertex_runs")
        spec = vertex_spec(tmp_path)
    write(tmp_path / "project" / "code" / "train.py", script)
    ran = mlx("train", spec)
    assert ran.exit_code == 0, ran.stderr
    job = re.search(r"Started (\S+) on", ran.stderr).group(1)  # type: ignore[union-attr]
    pulled = terminal("pull-artifacts", job, "-i", "model/w.bin", "--dest", tmp_path / "a")
    assert pulled.exit_code == 0, pulled.stderr
    # The rate needs two refreshes while bytes arrive: a 3 MB pull over loopback may end
    # before the second (the staging test, which sends more, checks the rate).
    assert "Pulling 1 file" in pulled.stderr and "3.0/3.0 MB" in pulled.stderr
    quiet = terminal("pull-artifacts", job, "-i", "model/w.bin", "--dest", tmp_path / "b", "--json")
    assert quiet.exit_code == 0, quiet.stderr
    assert json.loads(quiet.stdout)["downloaded"] == ["model/w.bin"]
    assert "Pulling" not in quiet.stderr


@pytest.fixture
def azure_cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The Azure tests' servers, running every job they create (mlx's Azure ML runner)."""
    from mlx.runner.sandbox import SandboxRuntime

    found = request.getfixturevalue("azure")
    found.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")
    return found


def test_azure_input_upload_and_pull_show_the_same_display(
    mlx: Any, azure_cloud: Any, tmp_path: Path, terminal: Callable[..., Result]
) -> None:
    """mlx uploads an Azure job's local input itself (azure-ai-ml offers no progress), and
    the job reads it; the pull shows the same display."""
    from tests.backends.azure.conftest import azure_spec

    data_file(tmp_path)
    script = (
        "import os, shutil, sys\n"
        "shutil.copy(sys.argv[1], os.path.join(os.environ['MLX_MODEL_DIR'], 'w.bin'))\n"
    )
    spec = azure_spec(tmp_path, inputs={"train": "./data/big.bin"}, args=["${{inputs.train}}"])
    write(tmp_path / "project" / "code" / "train.py", script)
    ran = terminal("train", spec)
    assert ran.exit_code == 0, ran.stderr[-3000:]
    assert "Uploading 1 file" in ran.stderr and "3.0/3.0 MB" in ran.stderr
    shown = re.sub(r"\x1b\[[0-9;]*m", "", ran.stderr)  # a terminal's: with styles
    job = re.search(r"Started (\S+) on", shown).group(1)  # type: ignore[union-attr]
    pulled = terminal("pull-artifacts", job, "-i", "model/w.bin", "--dest", tmp_path / "a")
    assert pulled.exit_code == 0, pulled.stderr
    assert "Pulling 1 file" in pulled.stderr and "3.0/3.0 MB" in pulled.stderr
    sent = (tmp_path / "project" / "data" / "big.bin").read_bytes()
    assert (tmp_path / "a" / "model" / "w.bin").read_bytes() == sent
