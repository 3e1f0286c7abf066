"""What mlx would send to Azure ML: documents ``load_job`` accepts, the fields a spec maps
to, a command no hyperparameter can inject into, and errors before any call."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backends.azure.conftest import IMAGE, azure_spec
from tests.conftest import write

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TUNE = {
    "objective": {"metric": "val_loss", "goal": "minimize"},
    "algorithm": "random",
    "seed": 3,
    "max_trials": 12,
    "parallel_trials": 3,
    "early_stopping": True,
    "parameters": {
        "learning-rate": {"type": "float", "min": 1.0e-5, "max": 1.0e-2, "scale": "log"},
        "depth": {"type": "int", "min": 1, "max": 4},
        "width": {"type": "int", "min": 0, "max": 7},
        "hidden": {"type": "int", "min": 16, "max": 1024, "scale": "log"},
        "batch-size": {"type": "discrete", "values": [32, 64, 128]},
        "optimizer": {"type": "choice", "values": ["sgd", "a; rm -rf /", True]},
    },
}
BIG_JOB = {
    "resources": {"accelerator": "A100:2", "nodes": 2, "max_runtime": "4h"},
    "hyperparameters": {"lr": 0.01, "layers": [64, 32], "amp": True, "name": "a; rm -rf /"},
    "args": ["--note", "x; echo injected"],
    "inputs": {
        "train": "wasbs://data@acct.blob.core.windows.net/train/",
        "test-set": "https://acct.blob.core.windows.net/data/test.csv",
        "vocab": "https://example.com/files/vocab.txt",
    },
    "env": {"LOG_LEVEL": "info"},
    "secrets": {"WANDB_API_KEY": "env:MLX_TEST_WANDB"},
    "metrics": [{"name": "val_loss"}],
    "tune": TUNE,
}


def translate(mlx: Any, spec: Path, *extra: str) -> dict[str, Any]:
    result = mlx("translate", spec, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["request"]


def runtime(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(env["MLX_RUNTIME_CONFIG"])


# --- the spec, field by field ----------------------------------------------------


def test_command_job_of_a_two_node_a100_spec(mlx: Any, tmp_path: Path) -> None:
    doc = translate(mlx, azure_spec(tmp_path, **BIG_JOB))
    job = doc["name"]
    assert re.fullmatch(r"az-[a-z0-9]{6}", job)
    assert doc["type"] == "command"
    assert (doc["display_name"], doc["experiment_name"], doc["tags"]) == (
        job,
        "az",
        {"mlx-job-id": job},
    )
    assert doc["code"] == str(tmp_path / "project" / "code")
    assert doc["command"] == (
        'exec "$(command -v python3 || command -v python)" .mlx/mlx-bootstrap.pyz '
        "--config-env MLX_RUNTIME_CONFIG "
        "--input train='${{inputs.train}}' --input test-set='${{inputs.test_set}}' "
        "--input vocab='${{inputs.vocab}}' "
        "--output model='${{outputs.model}}' --output checkpoints='${{outputs.checkpoints}}' "
        "--output output='${{outputs.output}}' "
        # What the script receives, as Studio shows it: a plain scalar is a literal input,
        # other values are quoted words.
        "-- python train.py --note 'x; echo injected' --lr '${{inputs.lr}}' "
        "--layers 64 --layers 32 --amp --name 'a; rm -rf /'"
    )
    assert doc["environment"] == {"image": IMAGE}
    assert doc["compute"] == "azureml:gpu-cluster"
    assert doc["resources"] == {"instance_count": 2}
    # One process per node, as on every platform (torchrun starts one per GPU if wanted).
    assert doc["distribution"] == {"type": "pytorch", "process_count_per_instance": 1}
    assert doc["inputs"] == {
        "train": {
            "type": "uri_folder",
            "path": "wasbs://data@acct.blob.core.windows.net/train/",
            "mode": "ro_mount",
        },
        "test_set": {
            "type": "uri_file",
            "path": "https://acct.blob.core.windows.net/data/test.csv",
            "mode": "ro_mount",
        },
        "vocab": {
            "type": "uri_file",
            "path": "https://example.com/files/vocab.txt",
            "mode": "download",
        },
        "lr": "0.01",  # the text the script receives
    }
    prefix = f"azureml://datastores/workspaceblobstore/paths/mlx/{job}"
    assert doc["outputs"] == {
        kind: {"type": "uri_folder", "path": f"{prefix}/{kind}/", "mode": "rw_mount"}
        for kind in ("model", "checkpoints", "output")
    }
    env = doc["environment_variables"]
    assert (env["LOG_LEVEL"], env["WANDB_API_KEY"]) == ("info", "********")
    config = runtime(env)
    assert config["hyperparameters"] == BIG_JOB["hyperparameters"]
    assert config["hyperparameters_in_argv"] is True  # the bootstrap adds none of them again
    assert (config["provider"], config["job_id"], config["report"]) == ("azure", job, "azure")
    assert (config["num_nodes"], config["num_gpus"]) == (2, 2)
    assert doc["limits"] == {"timeout": 4 * 3600}


def test_sweep_job_of_the_same_spec(mlx: Any, tmp_path: Path) -> None:
    doc = translate(mlx, azure_spec(tmp_path, **BIG_JOB), "--tune")
    job = doc["name"]
    assert doc["type"] == "sweep"
    assert doc["search_space"] == {
        "learning_rate": {
            "type": "loguniform",
            "min_value": math.log(1e-5),
            "max_value": math.log(1e-2),
        },
        "depth": {"type": "quniform", "min_value": 0.5, "max_value": 4.5, "q": 1},
        "width": {"type": "randint", "upper": 8},
        "hidden": {
            "type": "qloguniform",
            "min_value": math.log(16),
            "max_value": math.log(1024),
            "q": 1,
        },
        "batch_size": {"type": "choice", "values": [32, 64, 128]},
        "optimizer": {"type": "choice", "values": [0, 1, 2]},  # by position: not plain words
    }
    assert doc["sampling_algorithm"] == {"type": "random", "seed": 3}
    assert doc["objective"] == {"goal": "minimize", "primary_metric": "val_loss"}
    assert doc["limits"] == {
        "max_total_trials": 12,
        "max_concurrent_trials": 3,
        "trial_timeout": 4 * 3600,
    }
    assert doc["early_termination"] == {
        "type": "median_stopping",
        "evaluation_interval": 1,
        "delay_evaluation": 2,
    }
    trial = doc["trial"]
    assert trial["command"].endswith(
        "--hp learning-rate='${{search_space.learning_rate}}' --hp depth='${{search_space.depth}}' "
        "--hp width='${{search_space.width}}' --hp hidden='${{search_space.hidden}}' "
        "--hp batch-size='${{search_space.batch_size}}' "
        "--hp optimizer='${{search_space.optimizer}}' "
        # The static values, then the searched ones where the local tuner puts them.
        "-- python train.py --note 'x; echo injected' --lr '${{inputs.lr}}' "
        "--layers 64 --layers 32 --amp --name 'a; rm -rf /' "
        "--learning-rate '${{search_space.learning_rate}}' --depth '${{search_space.depth}}' "
        "--width '${{search_space.width}}' --hidden '${{search_space.hidden}}' "
        "--batch-size '${{search_space.batch_size}}' --optimizer '${{search_space.optimizer}}'"
    )
    assert doc["inputs"]["lr"] == "0.01"
    assert trial["distribution"] == {"type": "pytorch", "process_count_per_instance": 1}
    assert trial["resources"] == {"instance_count": 2}
    # Each trial writes under its own name, which Azure substitutes for ${{name}}.
    assert doc["outputs"]["model"]["path"] == (
        "azureml://datastores/workspaceblobstore/paths/mlx/${{name}}/model/"
    )
    config = runtime(trial["environment_variables"])
    assert config["objective"] == "val_loss"
    assert config["hyperparameters_at"] == 4  # python train.py --note 'x; echo injected'
    assert config["hyperparameters_in_argv"] is True
    assert config["search_space"]["optimizer"] == {
        "key": "optimizer",
        "type": "choice",
        "encoding": "index",
        "values": ["sgd", "a; rm -rf /", True],
    }
    assert job == doc["tags"]["mlx-job-id"]


@pytest.mark.parametrize(
    ("algorithm", "early", "sampling", "policy"),
    [
        ("bayesian", True, "bayesian", None),  # Azure: no early termination with Bayesian
        ("hyperband", True, "random", "bandit"),
        ("grid", False, "grid", None),
    ],
)
def test_algorithms_map_to_what_azure_offers(
    mlx: Any, tmp_path: Path, algorithm: str, early: bool, sampling: str, policy: Any
) -> None:
    params = {"depth": {"type": "int", "min": 1, "max": 3}, "opt": TUNE["parameters"]["optimizer"]}
    if algorithm != "grid":
        params["lr"] = TUNE["parameters"]["learning-rate"]
    tune = {**TUNE, "seed": None, "algorithm": algorithm, "early_stopping": early}
    tune["parameters"] = params
    doc = translate(mlx, azure_spec(tmp_path, metrics=[{"name": "val_loss"}], tune=tune), "--tune")
    assert doc["sampling_algorithm"] == sampling
    assert doc.get("early_termination", {}).get("type") == policy
    space = doc["search_space"]
    if algorithm == "grid":  # grid takes choices only; 3 x 3 combinations at most
        assert space["depth"] == {"type": "choice", "values": [1, 2, 3]}
        assert doc["limits"]["max_total_trials"] == 9
    if algorithm == "bayesian":  # no loguniform: the exponent, uniformly
        assert space["lr"] == {
            "type": "uniform",
            "min_value": math.log(1e-5),
            "max_value": math.log(1e-2),
        }
        assert space["depth"]["type"] == "quniform"


# --- every document loads ---------------------------------------------------------------

SPECS = {
    "minimal": {},
    "big": BIG_JOB,
    "no-code": {"code": None, "command": "python -m trainer", "tune": TUNE, "metrics": []},
    "bayesian": {**BIG_JOB, "tune": {**TUNE, "algorithm": "bayesian"}},
    "local-inputs": {"inputs": {"data": "./data/", "table": "./table.csv"}},
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_rendered_job_loads_with_load_job(mlx: Any, tmp_path: Path, name: str) -> None:
    from azure.ai.ml import load_job

    write(tmp_path / "project" / "data" / "a.txt", "a")
    write(tmp_path / "project" / "table.csv", "x\n1\n")
    fields = dict(SPECS[name])
    if name == "no-code":
        fields["metrics"] = [{"name": "val_loss"}]
    spec = azure_spec(tmp_path, **fields)
    kinds = [()] + ([("--tune",)] if "tune" in fields else [])
    for extra in kinds:
        doc = translate(mlx, spec, *extra)
        path = write(tmp_path / f"{doc['type']}.yaml", yaml.safe_dump(doc))
        job = load_job(path)
        assert (job.type, job.name) == (doc["type"], doc["name"])
        job._to_rest_object()  # what create_or_update sends: key rules are checked here
    if name == "no-code":  # the snapshot is the bootstrap alone
        assert (Path(doc["trial"]["code"]) / ".mlx" / "mlx-bootstrap.pyz").is_file()


# --- the command under a shell ----------------------------------------------------------

ECHO = """
import json, os, sys
model = os.environ["MLX_MODEL_DIR"]
open(os.path.join(model, "done.txt"), "w").write("ok")
print(json.dumps({
    "argv": sys.argv[1:],
    "train": os.environ["MLX_INPUT_TRAIN"],
    "test": os.environ["MLX_INPUT_TEST_SET"],
    "model": model,
    "output": os.environ["MLX_OUTPUT_DIR"],
    "secret": os.environ["WANDB_API_KEY"],
}))
"""
SECRETS = {"WANDB_API_KEY": "s3cret"}  # what submit resolves from $MLX_TEST_WANDB
EVIL = {"lr": 0.01, "layers": [64, 32], "amp": True, "name": "a; rm -rf /", "q": "$(touch pwned)'"}


def literal_values(doc: dict[str, Any]) -> dict[str, str]:
    """What Azure substitutes for the document's literal inputs: their text."""
    found = (doc.get("inputs") or {}).items()
    return {f"inputs.{key}": value for key, value in found if isinstance(value, str)}


def run_as_azure(command: str, code: Path, env: dict[str, str], values: dict[str, str]) -> Any:
    """``command`` as Azure runs it: ``${{...}}`` replaced as text, then ``sh -c`` in the
    code snapshot."""
    for expression, value in values.items():
        command = command.replace("${{" + expression + "}}", value)
    assert "${{" not in command
    done = subprocess.run(
        ["sh", "-c", command],
        cwd=code,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def places(tmp_path: Path) -> dict[str, str]:
    values = {}
    for name in ("inputs.train", "inputs.test_set", "inputs.vocab"):
        values[name] = str((tmp_path / "mnt" / name).resolve())
    for kind in ("model", "checkpoints", "output"):
        values[f"outputs.{kind}"] = str(tmp_path / "mnt" / "out dir" / kind)
    return values


def test_rendered_command_gives_the_script_the_local_argv(tmp_path: Path) -> None:
    from mlx.backends.azure import staging
    from mlx.backends.azure.backend import AzureBackend
    from mlx.backends.azure.render import command_job
    from mlx.spec import load_spec

    path = azure_spec(tmp_path, **{**BIG_JOB, "hyperparameters": EVIL})
    write(tmp_path / "project" / "code" / "train.py", ECHO)
    spec = load_spec(path)
    backend = AzureBackend()
    with staging.snapshot(spec, tmp_path / "cache") as code:
        doc = backend._document(spec, "az-abc123", command_job, SECRETS, code=code)
        values = {**places(tmp_path), **literal_values(doc)}
        seen = run_as_azure(doc["command"], code, doc["environment_variables"], values)
        assert not (code / "pwned").exists()  # the shell ran in the snapshot: nothing ran
    assert seen["argv"] == spec.argv()[2:]  # after `python train.py`, exactly as on local
    assert seen["argv"][-4:] == ["--name", "a; rm -rf /", "--q", "$(touch pwned)'"]
    assert seen["train"] == places(tmp_path)["inputs.train"]
    assert seen["model"] == str(tmp_path / "mnt" / "out dir" / "model")
    assert (tmp_path / "mnt" / "out dir" / "model" / "done.txt").read_text() == "ok"
    assert seen["secret"] == "s3cret"
    assert not (tmp_path / "project" / "code" / ".mlx").exists()  # the user's dir is untouched


def test_a_trial_command_folds_the_sweep_values_as_local_does(tmp_path: Path) -> None:
    from mlx.backends.azure import staging
    from mlx.backends.azure.backend import AzureBackend
    from mlx.backends.azure.sweep import sweep_job
    from mlx.spec import load_spec

    path = azure_spec(tmp_path, **{**BIG_JOB, "hyperparameters": {"depth": 9, **EVIL}})
    write(tmp_path / "project" / "code" / "train.py", ECHO)
    spec = load_spec(path)
    # What Azure substitutes for one trial: values, or positions for the optimizer choice.
    chosen = {
        "learning_rate": "0.00031622776601683794",
        "depth": "3.0",
        "width": "5",
        "hidden": "64.0",
        "batch_size": "64",
        "optimizer": "1",
    }
    values = {**places(tmp_path), **{f"search_space.{k}": v for k, v in chosen.items()}}
    with staging.snapshot(spec, tmp_path / "cache") as code:
        doc = AzureBackend()._document(spec, "az-abc123", sweep_job, SECRETS, code=code)
        trial = doc["trial"]
        values.update(literal_values(doc))
        seen = run_as_azure(trial["command"], code, trial["environment_variables"], values)
    params = {
        "learning-rate": 0.00031622776601683794,
        "depth": 3,
        "width": 5,
        "hidden": 64,
        "batch-size": 64,
        "optimizer": "a; rm -rf /",
    }
    # The local tuner merges a trial's values over the static ones in the same way.
    assert seen["argv"] == spec.argv({**spec.hyperparameters, **params})[2:]


def test_an_edited_literal_input_reaches_the_script(tmp_path: Path) -> None:
    """Studio's "edit and resubmit" sends the same command with the inputs edited."""
    from mlx.backends.azure import staging
    from mlx.backends.azure.backend import AzureBackend
    from mlx.backends.azure.render import command_job
    from mlx.spec import load_spec

    hps = {"lr": 0.01, "train": "sgd", "q": "$(touch pwned)'"}
    spec = load_spec(azure_spec(tmp_path, **{**BIG_JOB, "hyperparameters": hps}))
    write(tmp_path / "project" / "code" / "train.py", ECHO)
    with staging.snapshot(spec, tmp_path / "cache") as code:
        doc = AzureBackend()._document(spec, "az-abc123", command_job, SECRETS, code=code)
        # `train` is also a data input's key: the hyperparameter's input is another.
        assert {k: v for k, v in doc["inputs"].items() if isinstance(v, str)} == {
            "lr": "0.01",
            "train_2": "sgd",
        }
        edited = {**places(tmp_path), "inputs.lr": "0.5", "inputs.train_2": "adam"}
        seen = run_as_azure(doc["command"], code, doc["environment_variables"], edited)
        assert not (code / "pwned").exists()
    assert seen["argv"] == [
        *("--note", "x; echo injected", "--lr", "0.5", "--train", "adam"),
        *("--q", "$(touch pwned)'"),
    ]


def test_hydra_style_is_shown_the_same_way(mlx: Any, tmp_path: Path) -> None:
    hps = {"lr": 0.01, "layers": [64, 32], "name": "a b"}
    doc = translate(mlx, azure_spec(tmp_path, hyperparameters=hps, args_style="hydra"))
    assert doc["command"].endswith(
        "-- python train.py 'lr=${{inputs.lr}}' 'layers=[64,32]' 'name='\"'\"'a b'\"'\"''"
    )
    assert doc["inputs"] == {"lr": "0.01"}


def test_translate_says_what_the_cluster_decides(mlx: Any, tmp_path: Path) -> None:
    spec = azure_spec(tmp_path, resources={"spot": True, "disk": "100GB"})
    result = mlx("translate", spec)
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert (
        "Warning: resources.spot: Azure ML sets low priority per compute cluster, not per job: "
        "the job runs at gpu-cluster's priority, and the spot price shown holds only if "
        "gpu-cluster is a low-priority cluster (`mlx train` reads the cluster and says)"
    ) in said
    assert "spot" in said.split("Instance: ", 1)[1]  # the price line it qualifies
    assert (
        "Warning: resources.disk (100 GB) is not applied: an Azure ML job gets the disks of "
        "its cluster's VM size; a job cannot size them"
    ) in said


@pytest.mark.parametrize(
    ("field", "value", "most"), [("max_trials", 1001, 1000), ("parallel_trials", 101, 100)]
)
def test_sweep_limits_azure_refuses_are_refused_first(
    mlx: Any, tmp_path: Path, field: str, value: int, most: int
) -> None:
    tune = {**TUNE, "max_trials": 500, field: value}
    result = mlx(
        "translate", azure_spec(tmp_path, metrics=[{"name": "val_loss"}], tune=tune), "--tune"
    )
    assert result.exit_code == 1
    assert f"Error: `tune.{field}`: an Azure ML sweep allows at most {most} (got {value})" in (
        " ".join(result.stderr.split())
    )


# --- errors before any call --------------------------------------------------------------


def test_missing_compute_names_the_field(mlx: Any, tmp_path: Path) -> None:
    result = mlx("translate", azure_spec(tmp_path, azure={}), "--json")
    assert result.exit_code == 1
    assert "Error: `azure.compute` is not set" in result.stderr
    assert "MLX_AZURE_COMPUTE" in result.stderr


def test_missing_workspace_names_the_field(
    mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("MLX_AZURE_SUBSCRIPTION_ID", "MLX_AZURE_RESOURCE_GROUP", "MLX_AZURE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    result = mlx("train", azure_spec(tmp_path), "--detach")
    assert result.exit_code == 1
    assert "Error: `azure.subscription_id` is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_inputs_azure_cannot_read_are_refused(mlx: Any, tmp_path: Path) -> None:
    result = mlx("translate", azure_spec(tmp_path, inputs={"train": "s3://bucket/train/"}))
    assert result.exit_code == 1
    assert "`inputs.train`: Azure ML cannot read s3:// URIs" in result.stderr


def test_secrets_are_resolved_at_submit_only(mlx: Any, tmp_path: Path, azure: Any) -> None:
    spec = azure_spec(tmp_path, secrets={"TOKEN": "env:MLX_TEST_UNSET"})
    assert mlx("translate", spec).exit_code == 0
    result = mlx("train", spec, "--detach")
    assert result.exit_code == 1
    assert "`secrets.TOKEN` refers to $MLX_TEST_UNSET, which is not set" in result.stderr


@pytest.mark.parametrize(
    ("name", "ok"), [("average test loss", True), ("val/loss", True), ("loss@1", False)]
)
def test_metric_names_follow_mlflows_rule(mlx: Any, tmp_path: Path, name: str, ok: bool) -> None:
    metrics = [{"name": name, "regex": "x=([0-9.]+)"}]
    result = mlx("translate", azure_spec(tmp_path, metrics=metrics), "--json")
    assert result.exit_code == (0 if ok else 1), result.stderr
    if not ok:
        assert result.stderr.startswith(f"Error: metric {name!r}: Azure ML (MLflow) takes")
