"""Inside the job: what mlx staged, run as SageMaker runs it under a simulated /opt/ml.

The `mlx` and `code` channels are copied from the test server into ``<tmp>/opt/ml/input/
data/``, "/opt/ml" in the staged files is pointed at that directory, and the job is started
the way SageMaker starts it: ContainerEntrypoint + ContainerArguments for a training job,
the training toolkit running ``sagemaker_program`` with the hyperparameters as arguments for
a tuning trial. The script must see the argv the local provider gives it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.backends.contract import started
from tests.backends.sagemaker.conftest import BUCKET, sagemaker_spec, wait_for_request
from tests.conftest import write
from tests.emulators.aws import AwsServer

ECHO = """import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "rank": os.environ["MLX_NODE_RANK"],
                  "nodes": os.environ["MLX_NUM_NODES"], "hosts": os.environ["SM_HOSTS"],
                  "checkpoints": os.environ["MLX_CHECKPOINT_DIR"], "cwd": os.getcwd(),
                  "data": open(os.environ["MLX_INPUT_TRAIN"]).read()}))
"""
HYPERPARAMETERS = {"lr": 0.01, "layers": [64, 32], "use-amp": True, "name": "a b"}


def spec(tmp_path: Path, **fields: Any) -> Path:
    path = sagemaker_spec(
        tmp_path, hyperparameters=HYPERPARAMETERS, inputs={"train": "./train.csv"}, **fields
    )
    write(tmp_path / "project" / "code" / "train.py", ECHO)
    write(tmp_path / "project" / "train.csv", "x,y\n")
    return path


def opt_ml(sm: AwsServer, channels: list[dict[str, Any]], root: Path) -> str:
    """Copy each channel to ``root/ml/input/data/<name>/``; "/opt/ml" -> ``root/ml``."""
    s3 = sm.client("s3")
    ml = str(root / "ml")
    for item in channels:
        uri = item["DataSource"]["S3DataSource"]["S3Uri"]
        prefix = uri[len(f"s3://{BUCKET}/") :]
        for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
            data = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            if obj["Key"].endswith(("runtime.json", ".py")):
                data = data.replace(b"/opt/ml", ml.encode())
            target = root / "ml/input/data" / item["ChannelName"] / obj["Key"][len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return ml


def run(argv: list[str], **env: str) -> dict[str, Any]:
    import os

    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_training_job_entrypoint_gives_the_local_argv(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    from mlx.spec import load_spec

    path = spec(tmp_path)
    started(mlx("train", path, "--detach").stderr)
    request = wait_for_request(sm, "CreateTrainingJob")
    ml = opt_ml(sm, request["InputDataConfig"], tmp_path / "opt")
    # The console and hyperparameters.json show them as plain strings, as the generic
    # sagemaker Estimator sends them; SageMaker writes that file in every training job.
    assert request["HyperParameters"] == {
        "lr": "0.01",
        "layers": "[64, 32]",
        "use-amp": "true",
        "name": "a b",
    }
    write(Path(ml) / "input/config/hyperparameters.json", json.dumps(request["HyperParameters"]))
    algorithm = request["AlgorithmSpecification"]
    entrypoint = [part.replace("/opt/ml", ml) for part in algorithm["ContainerEntrypoint"]]
    seen = run([*entrypoint, *algorithm["ContainerArguments"]])
    local = load_spec(path, provider="local").argv()
    # After `python train.py`, exactly the local argv: from ContainerArguments, not again
    # from hyperparameters.json.
    assert seen["argv"] == local[2:]
    assert seen["argv"][-2:] == ["--name", "a b"]
    assert (seen["rank"], seen["nodes"]) == ("0", "1")
    assert seen["cwd"] == f"{ml}/input/data/code"
    assert seen["data"] == "x,y\n"


def test_tuning_trial_on_node_2_of_2_gives_the_local_argv(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    from mlx.spec import load_spec

    tune = {
        "objective": {"metric": "loss"},
        "engine": "native",  # the trial reads its values from hyperparameters.json
        "parameters": {
            "lr": {"type": "float", "min": 0.001, "max": 1.0, "scale": "log"},
            "optimizer": {"type": "choice", "values": ["sgd", "true"]},
        },
    }
    path = spec(tmp_path, metrics=[{"name": "loss"}], tune=tune, resources={"nodes": 2})
    started(mlx("tune", path, "--detach").stderr)
    request = wait_for_request(sm, "CreateHyperParameterTuningJob")
    definition = request["TrainingJobDefinition"]
    ml = opt_ml(sm, definition["InputDataConfig"], tmp_path / "opt")
    # As SageMaker writes them: static values as sent, the tuner's as plain text ("1" for
    # the float 1.0) or the categorical value chosen, plus its own bookkeeping entries.
    chosen = {"lr": "1", "optimizer": '"true"', "_tuning_objective_metric": "loss"}
    # A JSON object: SageMaker promises no key order (here: reversed).
    written = {**definition["StaticHyperParameters"], **chosen}
    write(
        Path(ml) / "input/config/hyperparameters.json",
        json.dumps(dict(reversed(list(written.items())))),
    )
    write(
        Path(ml) / "input/config/resourceconfig.json",
        json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}),
    )
    # The training toolkit runs SAGEMAKER_PROGRAM (an absolute path into the `mlx` channel)
    # with the hyperparameters as arguments.
    program = definition["Environment"]["SAGEMAKER_PROGRAM"].replace("/opt/ml", ml)
    seen = run(
        ["python", str(program), "--lr", "1", "--optimizer", '"true"'],
        TRAINING_JOB_NAME="trial-001-abcdef12",
    )
    local = load_spec(path, provider="local").argv(
        {**HYPERPARAMETERS, "lr": 1.0, "optimizer": "true"}
    )
    # The spec's order, as on every provider; the tuner's float stays a float.
    assert seen["argv"] == local[2:]
    assert seen["argv"][:2] == ["--lr", "1.0"]
    assert (seen["rank"], seen["nodes"]) == ("1", "2")
    assert json.loads(seen["hosts"]) == ["algo-1", "algo-2"]
    assert seen["checkpoints"] == f"{ml}/checkpoints/node-1"  # node 2's own folder
