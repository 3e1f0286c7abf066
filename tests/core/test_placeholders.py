"""Placeholders (``${{inputs.x}}``, ``${{outputs.model}}``, ``${{name}}``...) in the command,
``args`` and hyperparameters: resolved on local, shown resolved by translate where the
provider knows the path, and an unknown name is a spec error naming the field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlx.ids import trial_id
from mlx.runtime.placeholders import job_name
from tests.backends.contract import started
from tests.backends.placeholders import check_seen, project
from tests.conftest import write

SAGEMAKER = {
    "role": "arn:aws:iam::123456789012:role/SageMakerRole",
    "bucket": "my-bucket",
    "region": "us-east-1",
}
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1"
VERTEX = {"project": "my-project", "location": "us-central1", "bucket": "gs://my-bucket"}


def spec_file(root: Path, **fields: Any) -> Path:
    doc = {"name": "ph", **project(root), **fields}
    return write(root / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def test_every_placeholder_resolves_to_the_local_jobs_paths(mlx: Any, tmp_path: Path) -> None:
    result = mlx("train", spec_file(tmp_path / "project"))
    assert result.exit_code == 0, result.stderr
    job = started(result.stderr)
    artifacts = Path(os.environ["MLX_HOME"]) / "jobs" / job / "artifacts"
    seen = json.loads((artifacts / "model" / "seen-0.json").read_text())
    opts = check_seen(seen, job)
    data = tmp_path / "project" / "data"
    assert (opts["--data"], opts["--dir"]) == (str(data / "train.csv"), str(data / "folder"))
    assert opts["--model"] == str(artifacts / "model")
    assert (artifacts / "checkpoints" / "written-0.txt").read_text() == "--ckpt"
    assert (artifacts / "output" / "written-0.txt").read_text() == "--out"


def test_translate_shows_the_local_paths(mlx: Any, tmp_path: Path) -> None:
    result = mlx("translate", spec_file(tmp_path / "project"), "--json")
    assert result.exit_code == 0, result.stderr
    request = json.loads(result.stdout)["request"]
    job, argv = request["job_id"], request["argv"]
    data = tmp_path / "project" / "data"
    artifacts = Path(os.environ["MLX_HOME"]) / "jobs" / job / "artifacts"
    assert argv[:3] == ["python", "job.py", f"--name={job}"]
    assert argv[3:7] == ["--data", str(data / "train.csv"), "--dir", str(data / "folder")]
    assert argv[7:] == [
        *("--model", str(artifacts / "model")),
        *("--ckpt", str(artifacts / "checkpoints")),
        *("--out", str(artifacts / "output")),
    ]


def test_translate_shows_what_sagemaker_fixes_and_leaves_a_nodes_checkpoints(
    mlx: Any, tmp_path: Path
) -> None:
    path = spec_file(tmp_path / "project", image=ECR, sagemaker=SAGEMAKER)
    one = mlx("translate", path, "--provider", "sagemaker", "--json")
    assert one.exit_code == 0, one.stderr
    request = json.loads(one.stdout)["request"]
    argv = request["AlgorithmSpecification"]["ContainerArguments"]
    assert argv == [
        *("python", "job.py", f"--name={request['TrainingJobName']}"),
        *("--data", "/opt/ml/input/data/train/train.csv"),
        *("--dir", "/opt/ml/input/data/folder"),
        *("--model", "/opt/ml/model", "--ckpt", "/opt/ml/checkpoints"),
        *("--out", "/opt/ml/output/data"),
    ]
    assert request["HyperParameters"]["model"] == "/opt/ml/model"
    # Each node of a multi-node job checkpoints in its own folder: the bootstrap's to say.
    two = mlx("translate", path, "-p", "sagemaker", "--json", "--set", "resources.nodes=2")
    argv = json.loads(two.stdout)["request"]["AlgorithmSpecification"]["ContainerArguments"]
    assert argv[argv.index("--ckpt") + 1] == "${{outputs.checkpoints}}"


def test_translate_shows_vertex_input_paths_and_leaves_its_output_dirs(
    mlx: Any, tmp_path: Path
) -> None:
    path = spec_file(tmp_path / "project", image="img:1", vertex=VERTEX)
    result = mlx("translate", path, "--provider", "vertex", "--json")
    assert result.exit_code == 0, result.stderr
    request = json.loads(result.stdout)["request"]
    job = request["customJob"]["displayName"]
    args = request["customJob"]["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]["args"]
    assert args[2] == f"--name={job}"
    assert args[4].startswith("/gcs/my-bucket/") and args[4].endswith("/train.csv")
    assert args[6].startswith("/gcs/my-bucket/") and not args[6].endswith("/")
    # AIP_MODEL_DIR and its siblings are Vertex's to set: resolved in the job.
    assert args[7:] == [
        *("--model", "${{outputs.model}}", "--ckpt", "${{outputs.checkpoints}}"),
        *("--out", "${{outputs.output}}"),
    ]


def test_translate_hands_azure_its_own_expressions(mlx: Any, tmp_path: Path) -> None:
    fields = project(tmp_path / "project")
    fields["inputs"] = {"train-set": "./data/train.csv", "folder": "./data/folder"}
    fields["args"] = ["--data", "${{inputs.train-set}}", "--dir", "${{inputs.folder}}"]
    doc = {"name": "ph", "image": "img:1", **fields, "azure": {"compute": "c"}}
    path = write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))
    env = {"MLX_AZURE_SUBSCRIPTION_ID": "s", "MLX_AZURE_RESOURCE_GROUP": "g"}
    os.environ.update({**env, "MLX_AZURE_WORKSPACE": "w"})
    try:
        result = mlx("translate", path, "--provider", "azure", "--json")
    finally:
        for key in (*env, "MLX_AZURE_WORKSPACE"):
            os.environ.pop(key)
    assert result.exit_code == 0, result.stderr
    command = json.loads(result.stdout)["request"]["command"]
    script = command.split(" -- ", 1)[1]
    # Azure substitutes the inputs (by their job keys) and outputs itself; ${{name}} would
    # be Azure's own job name (a trial's is <sweep>_<n>): the bootstrap resolves it.
    assert script == (
        "python job.py '--name=$''{{name}}' --data '${{inputs.train_set}}' "
        "--dir '${{inputs.folder}}' --model '${{outputs.model}}' "
        "--ckpt '${{outputs.checkpoints}}' --out '${{outputs.output}}'"
    )


@pytest.mark.parametrize(
    ("change", "field", "bad"),
    [
        ({"args": ["--data", "${{inputs.train}}", "${{inputs.nope}}"]}, "args[2]", "inputs.nope"),
        (
            {"hyperparameters": {"data-path": "${{outputs.weights}}"}},
            "hyperparameters.data-path",
            "outputs.weights",
        ),
        ({"command": "python job.py --tag ${{foo}}"}, "command", "foo"),
        ({"command": ["python", "job.py", "${{ name }}/${{names}}"]}, "command[2]", "names"),
        (
            {"hyperparameters": {"files": ["a", "${{inputs}}"]}},
            "hyperparameters.files[1]",
            "inputs",
        ),
    ],
    ids=["input", "output", "bare-name", "list-command", "list-value"],
)
def test_an_unknown_placeholder_is_a_spec_error_naming_the_field(
    mlx: Any, tmp_path: Path, change: dict[str, Any], field: str, bad: str
) -> None:
    path = spec_file(tmp_path / "project", **change)
    lines = path.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "{{%s}}" % bad in text)
    result = mlx("translate", path)
    assert result.exit_code == 1
    error, hint = result.stderr.strip().splitlines()  # one line, and how to fix it
    assert error.startswith(
        f"Error: {path}:{line}: `{field}`: unknown placeholder ${{{{{bad}}}}}"
    ), error
    assert hint.startswith("Hint: Placeholders here: ${{inputs.train}}, ${{inputs.folder}}")


def test_an_unknown_placeholder_from_set_names_the_flag(mlx: Any, tmp_path: Path) -> None:
    path = spec_file(tmp_path / "project")
    result = mlx("translate", path, "--set", "hyperparameters.out=${{outputs.outptu}}")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: --set hyperparameters.out=${{outputs.outptu}}: `hyperparameters.out`: "
        "unknown placeholder ${{outputs.outptu}}; did you mean ${{outputs.output}}?"
    )


def test_a_tuned_choice_may_hold_placeholders_and_is_checked_too(mlx: Any, tmp_path: Path) -> None:
    tune = {
        "objective": {"metric": "loss"},
        "parameters": {"data": {"type": "choice", "values": ["${{inputs.train}}", "${{x}}"]}},
    }
    path = spec_file(tmp_path / "project", metrics=[{"name": "loss"}], tune=tune)
    result = mlx("translate", path, "--tune")
    assert result.exit_code == 1
    assert "`tune.parameters.data.values[1]`: unknown placeholder ${{x}}" in result.stderr


@pytest.mark.parametrize(
    ("source", "environ", "expected"),
    [
        # SageMaker's trial names (mlx.backends.sagemaker.tuning._TRIAL_NAME).
        (
            ["TRAINING_JOB_NAME", r"-(\d{3})-[0-9a-f]{8}$"],
            {"TRAINING_JOB_NAME": "job-abc-007-0a1b2c3d"},
            trial_id("job-abc", 7),
        ),
        (["CLOUD_ML_TRIAL_ID", r"^(\d+)$"], {"CLOUD_ML_TRIAL_ID": "12"}, trial_id("job-abc", 12)),
        (["MLFLOW_RUN_ID", r"^job\-abc_(\d+)$"], {"MLFLOW_RUN_ID": "job-abc_3"}, "job-abc-t3"),
        (["MLFLOW_RUN_ID", r"^job\-abc_(\d+)$"], {}, "job-abc"),  # not a trial
    ],
    ids=["sagemaker", "vertex", "azure", "no-trial"],
)
def test_name_in_a_cloud_trial_is_the_trials_mlx_id(
    source: list[str], environ: dict[str, str], expected: str
) -> None:
    config = {"job_id": "job-abc", "trial_number_from": source}
    assert job_name(config, environ) == expected


def test_rerun_checks_the_placeholders_it_is_given(mlx: Any, tmp_path: Path) -> None:
    trained = mlx("train", spec_file(tmp_path / "project"))
    assert trained.exit_code == 0, trained.stderr
    job = started(trained.stderr)
    result = mlx("rerun", job, "--set", "hyperparameters.out=${{inputs.tran}}")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "Error: --set hyperparameters.out=${{inputs.tran}}: `hyperparameters.out`: unknown "
        "placeholder ${{inputs.tran}}; did you mean ${{inputs.train}}?"
    )
