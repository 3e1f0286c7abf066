"""``mlx tensorboard JOB`` serving: TensorBoard on 127.0.0.1 lists the job as a run, Ctrl-C
stops it (exit 130, as for `logs -f`); without the extra, the hint line installs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.backends.contract import started
from tests.conftest import subprocess_env
from tests.tensorboard.test_local import local_spec, synced


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def runs_served(port: int) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=2) as answer:
        return json.loads(answer.read())


def test_without_the_extra_one_line_says_how_to_install_it(
    mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # what find_spec sees when absent
    result = mlx("tensorboard", "any-job")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: serving needs TensorBoard, which is not installed (--sync-only DIR copies the "
        "files without it)",
        "Hint: pip install 'mlx-jobs[tensorboard]'",
    ]


def test_tensorboard_serves_each_job_as_a_run_until_ctrl_c(mlx: Any, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    gate = tmp_path / "go"
    gate.touch()
    job = started(mlx("train", local_spec(tmp_path, gate), "--detach").stderr)
    synced(mlx, job, "--sync-only", tmp_path / "first", "--every", "0.1")  # it has ended
    port = free_port()
    argv = [sys.executable, "-m", "mlx", "tensorboard", job, "--port", str(port)]
    served = subprocess.Popen(
        argv, env=subprocess_env(), stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert served.stderr is not None
        cache = Path(os.environ["MLX_HOME"]) / "tensorboard"
        shown = served.stderr.readline()
        assert shown == f"TensorBoard at http://127.0.0.1:{port}/ over {cache}\n"
        runs, deadline = None, time.monotonic() + 40
        while time.monotonic() < deadline and runs != [job]:
            try:
                runs = runs_served(port)
            except OSError:
                time.sleep(0.2)
        assert runs == [job]
        served.send_signal(signal.SIGINT)  # Ctrl-C
        code = served.wait(timeout=20)
        rest = served.stderr.read()
    finally:
        if served.poll() is None:
            served.kill()
    assert code == 130
    assert "Stopped TensorBoard." in rest
    with pytest.raises(OSError):
        runs_served(port)  # nothing listens any more
