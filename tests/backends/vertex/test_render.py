"""What mlx would send to Vertex AI: strict protos, the fields a spec maps to, and the
errors a spec Vertex cannot run gets before any call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.cloud import aiplatform_v1

from tests.backends.vertex.conftest import BUCKET, IMAGE, vertex_spec
from tests.conftest import write

TUNE = {
    "objective": {"metric": "val_loss", "goal": "minimize"},
    "algorithm": "random",
    "max_trials": 12,
    "parallel_trials": 3,
    "early_stopping": True,
    "parameters": {
        "learning-rate": {"type": "float", "min": 1.0e-5, "max": 1.0e-2, "scale": "log"},
        "depth": {"type": "int", "min": 1, "max": 4},
        "batch-size": {"type": "discrete", "values": [32, 64, 128]},
        "optimizer": {"type": "choice", "values": ["sgd", "adam"]},
    },
}
BIG_JOB = {
    "resources": {"accelerator": "A100:8", "nodes": 3, "spot": True, "max_runtime": "4h"},
    "hyperparameters": {"lr": 0.01, "layers": [64, 32], "amp": True},
    "metrics": [{"name": "val_loss"}],
    "tune": TUNE,
}


def translate(mlx: Any, spec: Path, *extra: str) -> dict[str, Any]:
    result = mlx("translate", spec, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def canonical(cls: Any, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` parsed strictly as ``cls`` and written back as REST JSON."""
    message = cls.from_json(json.dumps(body), ignore_unknown_fields=False)
    text = cls.to_json(
        message,
        use_integers_for_enums=False,
        always_print_fields_with_no_presence=False,
        indent=None,
    )
    return json.loads(text)


@pytest.mark.parametrize(
    "fields",
    [{}, BIG_JOB, {"resources": {"accelerator": "T4:1", "disk": "50GB"}, "env": {"A": "1"}}],
)
def test_every_request_parses_strictly_as_its_message(
    mlx: Any, tmp_path: Path, fields: dict[str, Any]
) -> None:
    spec = vertex_spec(tmp_path, **fields)
    training = translate(mlx, spec)["request"]
    # Parsed strictly and written back, it is the same document: every field is known,
    # spelt and typed as the API's canonical JSON.
    assert canonical(aiplatform_v1.CustomJob, training["customJob"]) == training["customJob"]
    if "tune" in fields:
        tuning = translate(mlx, spec, "--tune")["request"]
        body = tuning["hyperparameterTuningJob"]
        assert canonical(aiplatform_v1.HyperparameterTuningJob, body) == body


def test_a100x8_spot_three_nodes_and_a_log_scale_range(mlx: Any, tmp_path: Path) -> None:
    spec = vertex_spec(tmp_path, **BIG_JOB, secrets={"TOKEN": "env:TOKEN"})
    doc = translate(mlx, spec)
    assert (doc["provider"], doc["kind"]) == ("vertex", "training")
    request = doc["request"]
    job = request["customJob"]
    job_id = job["displayName"]
    assert request["parent"] == "projects/test-project/locations/us-central1"
    assert job["labels"] == {"mlx-job-id": job_id}
    spec_ = job["jobSpec"]
    first, rest = spec_["workerPoolSpecs"]
    assert first["machineSpec"] == {
        "machineType": "a2-highgpu-8g",
        "acceleratorType": "NVIDIA_TESLA_A100",
        "acceleratorCount": 8,
    }
    assert (first["replicaCount"], rest["replicaCount"]) == ("1", "2")
    assert rest["machineSpec"] == first["machineSpec"]
    assert "diskSpec" not in first  # no resources.disk: the machine family's own boot disk
    assert spec_["scheduling"] == {"timeout": "14400s", "strategy": "SPOT"}
    assert spec_["baseOutputDirectory"] == {"outputUriPrefix": f"gs://{BUCKET}/mlx/{job_id}/"}
    container = first["containerSpec"]
    staged = f"/gcs/{BUCKET}/mlx/{job_id}/mlx"
    assert container["imageUri"] == IMAGE
    # The image's python3 (or python) runs the bootstrap from the /gcs/ mount.
    assert container["command"] == [
        "sh",
        "-c",
        'exec "$(command -v python3 || command -v python)" "$@"',
        "mlx",
        f"{staged}/mlx-bootstrap.pyz",
        "--config",
        f"{staged}/runtime.json",
        "--",
    ]
    assert container["args"] == [
        *["python", "train.py", "--lr", "0.01", "--layers", "64", "--layers", "32", "--amp"]
    ]
    assert container["env"] == [{"name": "TOKEN", "value": "********"}]  # never the value
    runtime = request["staging"]["runtime.json"]
    assert runtime["workdir"] == f"{staged}/code"
    assert (runtime["provider"], runtime["hyperparameters_in_argv"]) == ("vertex", True)

    tuning = translate(mlx, spec, "--tune")["request"]["hyperparameterTuningJob"]
    assert (tuning["maxTrialCount"], tuning["parallelTrialCount"]) == (12, 3)
    study = tuning["studySpec"]
    assert study["metrics"] == [{"metricId": "val_loss", "goal": "MINIMIZE"}]
    assert study["algorithm"] == "RANDOM_SEARCH"
    assert study["medianAutomatedStoppingSpec"] == {}
    assert study["parameters"] == [
        {
            "parameterId": "learning-rate",
            "doubleValueSpec": {"minValue": 1e-05, "maxValue": 0.01},
            "scaleType": "UNIT_LOG_SCALE",
        },
        {
            "parameterId": "depth",
            "integerValueSpec": {"minValue": "1", "maxValue": "4"},
            "scaleType": "UNIT_LINEAR_SCALE",
        },
        {
            "parameterId": "batch-size",
            "discreteValueSpec": {"values": [32.0, 64.0, 128.0]},
            "scaleType": "UNIT_LINEAR_SCALE",
        },
        {"parameterId": "optimizer", "categoricalValueSpec": {"values": ["sgd", "adam"]}},
    ]
    # Trials show the static values (none of them is tuned here); Vertex appends the rest.
    pools = tuning["trialJobSpec"]["workerPoolSpecs"]
    assert pools[0]["containerSpec"]["args"] == container["args"]
    assert translate(mlx, spec, "--tune")["request"]["staging"]["runtime.json"][
        "hyperparameters_in_argv"
    ]


def test_t4_machine_and_inputs_under_the_mount(mlx: Any, tmp_path: Path) -> None:
    write(tmp_path / "project" / "data" / "train.csv", "a,b\n1,2\n")
    write(tmp_path / "project" / "data" / "eval" / "part-0.csv", "a,b\n")
    spec = vertex_spec(
        tmp_path,
        resources={"accelerator": "T4:1"},
        inputs={"train": "data/train.csv", "eval": "data/eval", "big": "gs://datasets/imagenet/"},
    )
    request = translate(mlx, spec)["request"]
    pool = request["customJob"]["jobSpec"]["workerPoolSpecs"][0]
    assert pool["machineSpec"] == {
        "machineType": "n1-standard-4",
        "acceleratorType": "NVIDIA_TESLA_T4",
        "acceleratorCount": 1,
    }
    env = {e["name"]: e["value"] for e in pool["containerSpec"]["env"]}
    assert env["MLX_INPUT_BIG"] == "/gcs/datasets/imagenet/"
    train = env["MLX_INPUT_TRAIN"]
    assert train.startswith(f"/gcs/{BUCKET}/mlx/inputs/") and train.endswith("/train.csv")
    digest = train.split("/")[-2]
    assert len(digest) == 64
    assert env["MLX_INPUT_EVAL"].startswith(f"/gcs/{BUCKET}/mlx/inputs/")
    files = request["staging"]["files"]
    assert files[f"gs://{BUCKET}/mlx/inputs/{digest}/"].endswith("train.csv")


@pytest.mark.parametrize(
    ("fields", "message", "hint"),
    [
        (
            {"inputs": {"train": "s3://bucket/train/"}},
            "Error: `inputs.train`: Vertex AI reads gs:// URIs and local paths, not s3://",
            "Hint: Copy the data to Cloud Storage (gcloud storage cp -r) or give a local path",
        ),
        (
            {"vertex": {"project": "test-project"}},
            "Error: `vertex.bucket` is required: mlx stages code and inputs and keeps "
            "artifacts there",
            "Hint: e.g. bucket: gs://my-ml-bucket. Set it under `vertex:` in the spec or in "
            "~/.config/mlx/config.yaml.",
        ),
        (
            {"vertex": {"bucket": "gs://b-1"}},
            "Error: `vertex.project` is required: the Google Cloud project the job runs in",
            "Hint: e.g. project: my-project (or set GOOGLE_CLOUD_PROJECT).",
        ),
        (
            {"resources": {"accelerator": "A10G:1"}},
            "Error: ",
            "",
        ),
    ],
)
def test_what_vertex_cannot_run_is_one_line_with_a_hint(
    mlx: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fields: dict[str, Any],
    message: str,
    hint: str,
) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    result = mlx("translate", vertex_spec(tmp_path, **fields), "--json")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(message), result.stderr
    assert lines[-1].startswith(hint or "Hint: ")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_grid_and_hyperband_map_to_what_vertex_has(mlx: Any, tmp_path: Path) -> None:
    grid = dict(TUNE, algorithm="grid", max_trials=100)
    grid["parameters"] = {k: v for k, v in TUNE["parameters"].items() if v["type"] != "float"}
    spec = vertex_spec(tmp_path, metrics=[{"name": "val_loss"}], tune=grid)
    tuning = translate(mlx, spec, "--tune")["request"]["hyperparameterTuningJob"]
    assert tuning["studySpec"]["algorithm"] == "GRID_SEARCH"
    assert tuning["maxTrialCount"] == 4 * 3 * 2  # the whole grid, not more

    hyperband = dict(TUNE, algorithm="hyperband")
    spec = vertex_spec(tmp_path, metrics=[{"name": "val_loss"}], tune=hyperband)
    study = translate(mlx, spec, "--tune")["request"]["hyperparameterTuningJob"]["studySpec"]
    assert "algorithm" not in study  # Vertex's default: Bayesian optimisation
    assert study["medianAutomatedStoppingSpec"] == {}


def test_a_metric_name_with_spaces_is_refused_as_vertex_objective(mlx: Any, tmp_path: Path) -> None:
    tune = dict(TUNE, objective={"metric": "average test loss", "goal": "minimize"})
    metrics = [{"name": "average test loss", "regex": r"average test loss: ([0-9.]+)"}]
    result = mlx("translate", vertex_spec(tmp_path, tune=tune, metrics=metrics), "--tune")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: `tune.objective.metric` 'average test loss': Vertex AI's metric ids cannot "
        "contain spaces"
    )
