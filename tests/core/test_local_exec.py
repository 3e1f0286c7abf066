"""A local job with nothing for the bootstrap to do after its command starts runs as the
node's own process (the bootstrap becomes it: ``bootstrap.may_exec``); one with metrics
keeps the bootstrap reading its output. Either way the user sees the same (issue 19,
item 5)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write

SCRIPT = """\
import os, sys
with open(os.path.join(os.environ["MLX_OUTPUT_DIR"], "pid"), "w") as f:
    f.write(str(os.getpid()))
print("loss=0.5", sys.argv[1:])
if "--die" in sys.argv:
    sys.stdout.flush()
    os.kill(os.getpid(), 9)
"""


def project(tmp_path: Path, metrics: bool) -> Path:
    write(tmp_path / "train.py", SCRIPT)
    text = "name: probe\ncommand: python train.py\nhyperparameters: {lr: 0.1}\n"
    return write(tmp_path / "job.yaml", text + ("metrics: [{name: loss}]\n" if metrics else ""))


def job_dir(job: str) -> Path:
    return Path(os.environ["MLX_HOME"]) / "jobs" / job


@pytest.mark.parametrize("metrics", [False, True])
def test_the_output_exit_and_argv_are_the_same_with_or_without_the_bootstrap_staying(
    mlx: Any, tmp_path: Path, metrics: bool
) -> None:
    result = mlx("train", project(tmp_path, metrics), "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["metrics"] == ({"loss": 0.5} if metrics else {})
    assert mlx("logs", job["id"]).stdout == "loss=0.5 ['--lr', '0.1']\n"
    pid = (job_dir(job["id"]) / "artifacts" / "output" / "pid").read_text()
    node = (job_dir(job["id"]) / "node-0.pid").read_text()
    # Without metrics the script is the node's process itself; with them, the bootstrap's
    # child, which the bootstrap reads.
    assert (pid == node) is (not metrics)


@pytest.mark.parametrize("metrics", [False, True])
def test_a_script_killed_by_a_signal_exits_128_plus_n_either_way(
    mlx: Any, tmp_path: Path, metrics: bool
) -> None:
    result = mlx("train", project(tmp_path, metrics), "--set", "args=[--die]")
    assert result.exit_code == 1
    assert "failed: exited with code 137" in result.stderr


def test_a_command_that_cannot_start_says_so_without_metrics(mlx: Any, tmp_path: Path) -> None:
    spec = write(tmp_path / "job.yaml", "name: probe\ncommand: no-such-program-xyz\n")
    result = mlx("train", spec)
    assert result.exit_code == 1
    assert "cannot start 'no-such-program-xyz'" in result.stdout
    assert "exited with code 127" in result.stderr
