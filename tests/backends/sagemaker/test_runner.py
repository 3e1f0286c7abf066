"""SageMaker jobs run for real by the test server (mlx's runner, sandbox runtime): the traps
of issue #12 that only show when the container runs — images with or without the training
toolkit, images that ship /opt/ml/code or rely on their WORKDIR, checkpoint locations of
trials and nodes, `outputs:`, and what each node of a multi-node job is told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlx.backends.sagemaker.runner import SandboxImage
from tests.backends.contract import started
from tests.backends.sagemaker.conftest import BUCKET, IMAGE, SETTINGS
from tests.conftest import write
from tests.emulators.aws import AwsServer

# Records, per node, what a training script can check: its argv, where it runs, its
# checkpoint folder and what SageMaker restored there, the torch.distributed variables.
SCRIPT = """
import argparse, json, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--x", type=float, default=None)
args = parser.parse_args()
rank = os.environ["MLX_NODE_RANK"]
restored = sorted(
    os.path.relpath(os.path.join(d, f), "/opt/ml/checkpoints")
    for d, _, files in os.walk("/opt/ml/checkpoints") for f in files
)
seen = {
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "restored": restored,
    "env": {k: os.environ.get(k) for k in (
        "MLX_CHECKPOINT_DIR", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK",
        "NODE_RANK", "LOCAL_RANK", "SM_CURRENT_HOST")},
}
with open(os.path.join(os.environ["MLX_MODEL_DIR"], f"seen-{rank}.json"), "w") as f:
    json.dump(seen, f)
with open(os.path.join(os.environ["MLX_CHECKPOINT_DIR"], "state.txt"), "w") as f:
    f.write(f"node {rank}")
print(f"loss={args.x if args.x is not None else args.lr!r}", flush=True)
"""
TUNE = {
    "objective": {"metric": "loss", "goal": "minimize"},
    "engine": "native",  # SageMaker's tuner: its trials start through the image's toolkit
    "algorithm": "random",
    "seed": 3,
    "max_trials": 2,
    "parameters": {"x": {"type": "float", "min": 0.0, "max": 1.0}},
}


def spec(tmp_path: Path, *, code: bool = True, **fields: Any) -> Path:
    doc: dict[str, Any] = {
        "name": "run",
        "provider": "sagemaker",
        "image": IMAGE,
        "command": "python job.py",
        "hyperparameters": {"lr": 0.1},
        "metrics": [{"name": "loss"}],
        "tune": TUNE,
        "sagemaker": dict(SETTINGS),
        **fields,
    }
    if code:
        write(tmp_path / "project" / "code" / "job.py", SCRIPT)
        doc["code"] = "./code"
    return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def seen(mlx: Any, job: str, dest: Path, rank: int = 0, *flags: str) -> dict[str, Any]:
    name = f"model/seen-{rank}.json"
    pulled = mlx("pull-artifacts", job, *flags, "--include", name, "--dest", dest)
    assert pulled.exit_code == 0, pulled.stderr
    found: dict[str, Any] = json.loads((dest / name).read_text())
    return found


def tune(mlx: Any, path: Path) -> dict[str, Any]:
    result = mlx("tune", path, "--json")
    assert result.stdout, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_an_image_without_the_training_toolkit_fails_every_trial(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.execute_jobs(SandboxImage(toolkit=False))
    summary = tune(mlx, spec(tmp_path))
    assert [t["state"] for t in summary["trials"]] == ["failed", "failed"]
    logs = mlx("logs", summary["id"], "--trial", "1")
    assert "exec train: No such file or directory" in logs.stdout


def test_tuning_with_an_image_that_ships_its_own_opt_ml_code(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    # The toolkit's own recipe: the image's program in /opt/ml/code, named by ENV
    # SAGEMAKER_PROGRAM. The toolkit then extracts no submitted source; mlx's trials
    # must still run mlx's command, not the image's program.
    shipped = write(tmp_path / "image" / "code" / "train.py", "raise SystemExit(3)\n").parent
    image = SandboxImage(files={"/opt/ml/code": shipped}, env={"SAGEMAKER_PROGRAM": "train.py"})
    sm.execute_jobs(image)
    summary = tune(mlx, spec(tmp_path))
    assert [t["state"] for t in summary["trials"]] == ["succeeded", "succeeded"]
    best = summary["best"]
    found = seen(mlx, summary["id"], tmp_path / "seen", 0, "--trial", "best")
    assert found["argv"] == ["--lr", "0.1", "--x", repr(best["params"]["x"])]
    assert found["cwd"] == "/opt/ml/input/data/code"


def test_an_image_that_relies_on_its_workdir_trains_and_tunes_there(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    app = write(tmp_path / "image" / "app" / "job.py", SCRIPT).parent
    sm.execute_jobs(SandboxImage(workdir="/app", files={"/app": app}))
    path = spec(tmp_path, code=False)
    trained = mlx("train", path)
    assert trained.exit_code == 0, trained.stderr
    assert seen(mlx, started(trained.stderr), tmp_path / "train")["cwd"] == "/app"
    summary = tune(mlx, path)
    assert [t["state"] for t in summary["trials"]] == ["succeeded", "succeeded"]
    assert seen(mlx, summary["id"], tmp_path / "tune", 0, "--trial", "1")["cwd"] == "/app"


def test_no_trial_restores_another_trials_checkpoints(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.execute_jobs()
    summary = tune(mlx, spec(tmp_path, tune={**TUNE, "parallel_trials": 1}))
    assert [t["state"] for t in summary["trials"]] == ["succeeded", "succeeded"]
    for trial in ("1", "2"):
        found = seen(mlx, summary["id"], tmp_path / trial, 0, "--trial", trial)
        assert found["restored"] == []


def test_each_node_checkpoints_in_its_own_place_and_knows_its_rank(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.execute_jobs()
    trained = mlx("train", spec(tmp_path, resources={"nodes": 2}))
    assert trained.exit_code == 0, trained.stderr
    job = started(trained.stderr)
    listed = sm.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"mlx/{job}/checkpoints/")
    keys = {o["Key"]: o for o in listed["Contents"]}
    body = {
        key[len(f"mlx/{job}/checkpoints/") :]: sm.client("s3")
        .get_object(Bucket=BUCKET, Key=key)["Body"]
        .read()
        .decode()
        for key in keys
    }
    assert body == {"node-0/state.txt": "node 0", "node-1/state.txt": "node 1"}
    second = seen(mlx, job, tmp_path / "node1", 1)["env"]
    assert (second["RANK"], second["NODE_RANK"], second["WORLD_SIZE"]) == ("1", "1", "2")
    assert (second["MASTER_ADDR"], second["SM_CURRENT_HOST"]) == ("algo-1", "algo-2")
    assert second["MLX_CHECKPOINT_DIR"] == "/opt/ml/checkpoints/node-1"


def test_outputs_are_refused_with_where_sagemaker_writes(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    path = spec(tmp_path, outputs={"model": "s3://elsewhere/models/"})
    result = mlx("translate", path, "--provider", "sagemaker")
    assert result.exit_code == 1
    assert "`outputs.model`" in result.stderr
    assert "sagemaker.bucket" in result.stderr


def test_a_failing_script_fails_the_job_with_the_failure_files_reason(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    sm.execute_jobs()
    write(tmp_path / "project" / "code" / "job.py", "raise SystemExit(4)\n")
    path = spec(tmp_path, code=False, command="python job.py")
    doc = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**doc, "code": "./code"}, sort_keys=False))
    result = mlx("train", path)
    assert result.exit_code == 1
    job = started(result.stderr)
    described = sm.client("sagemaker").describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Failed"
    # What mlx's bootstrap wrote in /opt/ml/output/failure.
    assert described["FailureReason"] == "python exited with code 4"
