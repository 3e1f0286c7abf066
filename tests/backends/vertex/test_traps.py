"""What running the jobs exposed on Vertex (issue #12, item 5), each through the CLI with
the jobs really run by the test servers (``vertex_runs``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.backends.vertex.conftest import BUCKET, IMAGE, SETTINGS, Gcp
from tests.conftest import write
from tests.emulators.vertex_runs import VertexRuns

# Records, per node and trial, what the script found; fails if another's file is there.
SCRIPT = """
import json, os, sys, time
rank = os.environ["MLX_NODE_RANK"]
trial = os.environ.get("CLOUD_ML_TRIAL_ID", "-")
ckpt = os.environ["MLX_CHECKPOINT_DIR"]
seen = {
    "cwd": os.getcwd(),
    "others_in_cwd": os.path.exists("scratch.txt"),
    "checkpoints_before": sorted(os.listdir(ckpt)) if os.path.isdir(ckpt) else [],
    "env": {k: os.environ.get(k) for k in (
        "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "CLUSTER_SPEC", "MLX_CHECKPOINT_DIR")},
}
with open("scratch.txt", "w") as f:  # beside the script: its working folder
    f.write(trial)
os.makedirs(ckpt, exist_ok=True)
with open(os.path.join(ckpt, "state.txt"), "w") as f:
    f.write(f"node {rank} trial {trial}")
time.sleep(0.5)  # parallel trials overlap
model = os.environ["MLX_MODEL_DIR"]
with open(os.path.join(model, f"seen-{rank}.json"), "w") as f:
    json.dump(seen, f)
# Vertex shuts the other replicas down once the primary exits: it waits for theirs first.
others = [f"seen-{r}.json" for r in range(1, int(os.environ["MLX_NUM_NODES"]))]
deadline = time.time() + 60
while rank == "0" and time.time() < deadline and not all(
    os.path.exists(os.path.join(model, name)) for name in others
):
    time.sleep(0.1)
print("loss=" + os.environ.get("X", "0.5"), flush=True)
"""


def spec_file(tmp_path: Path, **fields: Any) -> Path:
    write(tmp_path / "project" / "code" / "job.py", SCRIPT)
    doc = {
        "name": "traps",
        "provider": "vertex",
        "image": IMAGE,
        "command": "python job.py",
        "code": "./code",
        "metrics": [{"name": "loss"}],
        "vertex": dict(SETTINGS),
        **fields,
    }
    return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def read_json(gcp: Gcp, key: str) -> Any:
    blob = gcp.storage().bucket(BUCKET).blob(key)
    return json.loads(blob.download_as_bytes())


def read_text(gcp: Gcp, key: str) -> str:
    return gcp.storage().bucket(BUCKET).blob(key).download_as_bytes().decode()


def test_parallel_trials_each_run_in_their_own_working_folder(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    """Vertex's trials share the bucket, and the code mlx staged in it: run from the
    mount, two trials at once wrote beside the same script (and into the staged code)."""
    tune = {
        "objective": {"metric": "loss", "goal": "minimize"},
        "algorithm": "random",
        "max_trials": 2,
        "parallel_trials": 2,
        "parameters": {"x": {"type": "float", "min": 0.0, "max": 1.0}},
    }
    result = mlx("tune", spec_file(tmp_path, tune=tune), "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["id"]
    seen = [read_json(gcp, f"mlx/{job}/{trial}/model/seen-0.json") for trial in (1, 2)]
    assert [s["others_in_cwd"] for s in seen] == [False, False]
    assert not seen[0]["cwd"].startswith("/gcs/") and not seen[1]["cwd"].startswith("/gcs/")
    assert gcp.objects(f"mlx/{job}/mlx/code/") == [f"mlx/{job}/mlx/code/job.py"]
    # Each trial its own checkpoints, none restored from another.
    assert [s["checkpoints_before"] for s in seen] == [[], []]
    for trial in (1, 2):
        state = read_text(gcp, f"mlx/{job}/{trial}/checkpoints/state.txt")
        assert state == f"node 0 trial {trial}"


def test_each_node_gets_the_primary_as_master_and_its_own_checkpoints(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    """torch.distributed's ``env://`` needs the master's address on every node: Vertex's
    is pool 0's replica in ``CLUSTER_SPEC``, not a host name that exists on SageMaker
    only. The nodes share one ``AIP_CHECKPOINT_DIR``; each keeps its own folder in it."""
    result = mlx("train", spec_file(tmp_path, resources={"nodes": 2}), "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["id"]
    seen = [read_json(gcp, f"mlx/{job}/model/seen-{rank}.json") for rank in (0, 1)]
    cluster = json.loads(seen[0]["env"]["CLUSTER_SPEC"])["cluster"]
    primary, port = cluster["workerpool0"][0].rsplit(":", 1)
    for rank, node in enumerate(seen):
        env = node["env"]
        assert (env["MASTER_ADDR"], env["MASTER_PORT"]) == (primary, port)
        assert (env["WORLD_SIZE"], env["RANK"]) == ("2", str(rank))
        assert env["MLX_CHECKPOINT_DIR"] == f"/gcs/{BUCKET}/mlx/{job}/checkpoints/node-{rank}"
    for rank in (0, 1):
        state = read_text(gcp, f"mlx/{job}/checkpoints/node-{rank}/state.txt")
        assert state == f"node {rank} trial -"


def test_outputs_elsewhere_are_refused_before_anything_is_sent(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    """Vertex writes a job's model, checkpoints and logs under its one
    ``baseOutputDirectory``: an ``outputs:`` URI was silently ignored (the model went to
    the default prefix, where pull-artifacts then found it, not where the spec said)."""
    spec = spec_file(tmp_path, outputs={"model": "gs://elsewhere/models/"})
    for command in (("train", spec, "--detach"), ("translate", spec, "-p", "vertex")):
        result = mlx(*command)
        assert result.exit_code == 1
        assert "`outputs.model`: Vertex AI writes a job's outputs under" in result.stderr
        assert "gs://elsewhere/models/" in result.stderr
    assert gcp.vertex.requests("Create*") == []
    assert gcp.objects() == []
    # `null` (the provider's default place) is fine.
    allowed = mlx("translate", spec_file(tmp_path, outputs={"model": None}), "-p", "vertex")
    assert allowed.exit_code == 0, allowed.stderr
