"""The backend contract: one scenario, proven through the real CLI for every backend.

Like fsspec's ``AbstractCopyTests``: a backend's tests subclass ``BackendContract``, give it
their fixtures and fill in a few small hooks saying how *this* provider makes a job do what
``SCRIPT`` does (on local the script really runs; on a cloud the test server plays it):

- ``spec_fields()``: the provider's part of the spec (``provider:``, ``image:``, settings);
- ``play_training()``: runs in a thread while ``mlx train`` follows the first job; makes it
  print ``node_lines(n)`` on each of ``NODES`` nodes, hold ``ARTIFACT`` and succeed;
- ``play_tuning()``: the same for ``mlx tune``: ``len(OBJECTIVES)`` trials, trial ``i``
  with ``x = OBJECTIVES[i]`` printing ``loss=<x>`` and holding ``ARTIFACT`` = ``loss=<x>``.

A job started with ``--set hyperparameters.hold=600`` must keep running until cancelled.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.conftest import write

NODES = 2
LINES = 15  # per node
ARTIFACT = "model/weights.txt"
TRAINED = "weights of the contract job\n"
OBJECTIVES = (0.5, 0.2, 0.3)

SCRIPT = f"""
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--hold", type=float, default=0)
parser.add_argument("--x", type=float, default=None)
args = parser.parse_args()
rank = int(os.environ["MLX_NODE_RANK"])
time.sleep(args.hold)
model = os.path.join(os.environ["MLX_MODEL_DIR"], "weights.txt")
if args.x is not None:
    print(f"loss={{args.x!r}}", flush=True)
    with open(model, "w") as f:
        f.write(f"loss={{args.x!r}}")
else:
    for i in range({LINES}):
        print(f"node {{rank}} line {{i}}", flush=True)
    if rank == 0:
        with open(model, "w") as f:
            f.write({TRAINED!r})
"""


def node_lines(node: int) -> list[str]:
    """What node ``node`` prints, in order."""
    return [f"node {node} line {i}" for i in range(LINES)]


def started(stderr: str) -> str:
    """The job id from `Started <id> on ...`."""
    match = re.search(r"Started (?:tuning job )?(\S+) on", stderr)
    assert match, stderr
    return match.group(1)


class BackendContract:
    """Submit, follow, pull, cancel; tune, trials, --trial logs and artifacts."""

    # -- hooks -------------------------------------------------------------------------

    def spec_fields(self) -> dict[str, Any]:
        return {}

    def play_training(self) -> None:
        """Runs beside `mlx train` (see the module docstring); local needs nothing."""

    def play_tuning(self) -> None:
        """Runs beside `mlx tune` (see the module docstring); local needs nothing."""

    # -- the scenario ------------------------------------------------------------------

    @pytest.fixture
    def spec(self, tmp_path: Path) -> Path:
        write(tmp_path / "project" / "code" / "job.py", SCRIPT)
        doc = {
            "name": "contract",
            "command": "python job.py",
            "code": "./code",
            "resources": {"nodes": NODES},
            "metrics": [{"name": "loss"}],
            "tune": {
                "objective": {"metric": "loss", "goal": "minimize"},
                "algorithm": "random",
                "seed": 7,
                "max_trials": len(OBJECTIVES),
                "parameters": {"x": {"type": "float", "min": 0.0, "max": 1.0}},
            },
            **self.spec_fields(),
        }
        return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))

    @contextmanager
    def playing(self, play: Callable[[], None]) -> Iterator[None]:
        failures: list[BaseException] = []

        def run() -> None:
            try:
                play()
            except BaseException as e:  # reported in the test's thread
                failures.append(e)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield
        thread.join(timeout=30)
        if failures:
            raise failures[0]

    def test_train_follows_two_nodes_pulls_one_file_and_cancels_another(
        self, mlx: Any, spec: Path, tmp_path: Path
    ) -> None:
        with self.playing(self.play_training):
            result = mlx("train", spec)
        assert result.exit_code == 0, result.stderr
        job = started(result.stderr)
        shown = [line for line in result.stdout.splitlines() if line.startswith("[node-")]
        assert len(shown) == NODES * LINES  # none twice, none lost
        for node in range(NODES):
            prefix = f"[node-{node}] "
            mine = [line[len(prefix) :] for line in shown if line.startswith(prefix)]
            assert mine == node_lines(node)

        dest = tmp_path / "pulled"
        pulled = mlx("pull-artifacts", job, "--include", ARTIFACT, "--dest", dest, "--json")
        assert pulled.exit_code == 0, pulled.stderr
        assert json.loads(pulled.stdout)["downloaded"] == [ARTIFACT]
        assert (dest / ARTIFACT).read_text() == TRAINED
        again = mlx("pull-artifacts", job, "--include", ARTIFACT, "--dest", dest, "--json")
        assert json.loads(again.stdout)["skipped"] == [ARTIFACT]

        held = mlx("train", spec, "--detach", "--set", "hyperparameters.hold=600")
        assert held.exit_code == 0, held.stderr
        other = started(held.stderr)
        cancelled = mlx("cancel", other)
        assert cancelled.exit_code == 0, cancelled.stderr
        assert f"Job {other} cancelled" in cancelled.stderr
        status = json.loads(mlx("status", other, "--json").stdout)
        assert status["state"] == "cancelled"

    def test_tune_three_trials_then_status_logs_and_artifacts_of_the_best(
        self, mlx: Any, spec: Path, tmp_path: Path
    ) -> None:
        with self.playing(self.play_tuning):
            result = mlx("tune", spec, "--json")
        assert result.exit_code == 0, result.stderr
        summary = json.loads(result.stdout)
        job = summary["id"]
        trials = summary["trials"]
        assert [t["state"] for t in trials] == ["succeeded"] * len(OBJECTIVES)
        best = min(trials, key=lambda t: t["objective"])
        assert summary["best"]["number"] == best["number"]
        assert summary["best"]["params"]["x"] == best["objective"]  # the script's loss is x

        status = json.loads(mlx("status", job, "--json").stdout)
        assert [t["id"] for t in status["trials"]] == [t["id"] for t in trials]
        logs = mlx("logs", job, "--trial", "best")
        assert logs.exit_code == 0, logs.stderr
        assert f"loss={best['objective']!r}" in logs.stdout

        dest = tmp_path / "best"
        pulled = mlx("pull-artifacts", job, "--trial", "best", "-i", ARTIFACT, "--dest", dest)
        assert pulled.exit_code == 0, pulled.stderr
        assert (dest / ARTIFACT).read_text() == f"loss={best['objective']!r}"
