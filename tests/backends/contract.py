"""The backend contract: one scenario, proven through the real CLI for every backend.

Like fsspec's ``AbstractCopyTests``: a backend's tests subclass ``BackendContract``, give it
their fixtures and fill in a few small hooks. ``SCRIPT`` really runs on every provider: on
local as a local job, on a cloud in its emulated service, which executes what mlx sent
through the platform runner (``mlx.runner``) the way that platform runs containers.

- ``spec_fields()``: the provider's part of the spec (``provider:``, ``image:``, settings);
- ``tuner_objectives()``: the objective values the platform's own tuner received, one per
  trial (None where mlx is the tuner).

The script records what it saw (argv, whether its code is in the working directory, the
contract's variables) in ``model/seen.json``; the tests pull it and check it.

A job started with ``--set hyperparameters.hold=600`` must keep running until cancelled.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import write

NODES = 2
LINES = 15  # per node
ARTIFACT = "model/weights.txt"
TRAINED = "weights of the contract job\n"
OBJECTIVES = (0.5, 0.2, 0.3)

SEEN = "model/seen.json"
SEEN_VARIABLES = (
    "MLX_JOB_ID", "MLX_NUM_NODES", "MLX_NODE_RANK", "SM_CURRENT_HOST", "SM_HOSTS",
    "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "NODE_RANK", "LOCAL_RANK",
)  # fmt: skip
SCRIPT = f"""
import argparse, json, os, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--hold", type=float, default=0)
parser.add_argument("--x", type=float, default=None)
args = parser.parse_args()
rank = int(os.environ["MLX_NODE_RANK"])
if rank == 0:
    seen = {{
        "argv": sys.argv[1:],
        "code_in_cwd": os.path.isfile("job.py"),
        "env": {{k: os.environ.get(k) for k in {SEEN_VARIABLES!r}}},
    }}
    with open(os.path.join(os.environ["MLX_MODEL_DIR"], "seen.json"), "w") as f:
        json.dump(seen, f)
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
        # Vertex stops the other replicas once the primary exits: let theirs end first.
        time.sleep(1.0)
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

    # The job runs through mlx's bootstrap, which sets the contract's variables (a toy
    # provider that runs the script bare says False: its argv and files are still checked).
    bootstrap = True

    def tuner_objectives(self) -> list[float] | None:
        """The objectives the platform's tuner received, in trial order; None for local."""
        return None

    # -- the scenario ------------------------------------------------------------------

    @pytest.fixture
    def spec(self, tmp_path: Path) -> Path:
        write(tmp_path / "project" / "code" / "job.py", SCRIPT)
        doc = {
            "name": "contract",
            "command": "python job.py",
            "code": "./code",
            "hyperparameters": {"lr": 0.1},
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

    def test_train_follows_two_nodes_pulls_one_file_and_cancels_another(
        self, mlx: Any, spec: Path, tmp_path: Path
    ) -> None:
        result = mlx("train", spec)
        assert result.exit_code == 0, result.stderr
        job = started(result.stderr)
        lines = [line for line in result.stdout.splitlines() if line.startswith("[node-")]
        # The spec declares `loss`, which a training run of SCRIPT never reports: the job
        # says so at its end (mlx.runtime.channels), once.
        warned = [line for line in lines if "[mlx] metric loss never appeared" in line]
        assert len(warned) == (1 if self.bootstrap else 0), lines
        shown = [line for line in lines if line not in warned]
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
        seen = self.pull_seen(mlx, job, tmp_path / "seen")
        assert seen["argv"] == ["--lr", "0.1"]
        assert seen["code_in_cwd"], "the working directory is the code folder"
        if self.bootstrap:
            env = seen["env"]
            assert env["MLX_JOB_ID"] == job
            assert (env["MLX_NUM_NODES"], env["MLX_NODE_RANK"]) == (str(NODES), "0")
            assert (env["WORLD_SIZE"], env["RANK"], env["NODE_RANK"]) == (str(NODES), "0", "0")
            assert env["LOCAL_RANK"] == "0" and env["MASTER_ADDR"] and env["MASTER_PORT"]
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
        seen = self.pull_seen(mlx, job, tmp_path / "seen-best", "--trial", "best")
        assert seen["argv"] == ["--lr", "0.1", "--x", repr(best["params"]["x"])]
        assert seen["code_in_cwd"], "the working directory is the code folder"
        received = self.tuner_objectives()
        if received is not None:
            assert sorted(received) == sorted(t["objective"] for t in trials)

    def pull_seen(self, mlx: Any, job: str, dest: Path, *flags: str) -> dict[str, Any]:
        pulled = mlx("pull-artifacts", job, *flags, "--include", SEEN, "--dest", dest)
        assert pulled.exit_code == 0, pulled.stderr
        seen: dict[str, Any] = json.loads((dest / SEEN).read_text())
        return seen
