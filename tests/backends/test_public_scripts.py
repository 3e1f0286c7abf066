"""Public training scripts, unchanged (re-created in ``tests/fixtures/public_scripts/`` with
their originals' argv parsing and metric reporting, see its README.md): each trains on local
with its metric reported, tunes on local to a best trial, and the same spec tunes on the
emulated SageMaker, Vertex AI and Azure ML, whose jobs really run through mlx's platform
runners; the objective each platform's own tuner received is what the script reported
(issue #14: stdout through a logger, MLflow, cloudml-hypertune; inputs as placeholders)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE as AZURE_IMAGE
from tests.backends.azure.conftest import SETTINGS as AZURE_SETTINGS
from tests.backends.sagemaker.conftest import BUCKET as SM_BUCKET
from tests.backends.sagemaker.conftest import FRAMEWORK_IMAGE as SM_IMAGE
from tests.backends.sagemaker.conftest import SETTINGS as SM_SETTINGS
from tests.backends.vertex.conftest import BUCKET as VX_BUCKET
from tests.backends.vertex.conftest import IMAGE as VX_IMAGE
from tests.backends.vertex.conftest import SETTINGS as VX_SETTINGS
from tests.backends.vertex.conftest import Gcp
from tests.conftest import write

# azure-ai-ml's schemas warn about marshmallow on every job they load.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "public_scripts"
IRIS = "sepal_length,sepal_width,petal_length,petal_width,species\n" + "".join(
    f"5.1,3.5,1.4,0.2,{s}\n" for s in ("setosa", "versicolor", "virginica")
)
TRIALS = 3
TUNING = {"algorithm": "random", "seed": 3, "max_trials": TRIALS, "parallel_trials": TRIALS}


@dataclass(frozen=True)
class Script:
    """A public script as a project: where its re-creation goes in ``code``, the data it
    reads, its spec (as its original's platform ran it) and the value it reports."""

    fixture: str
    path: str  # in code/, the original's own file name
    data: dict[str, str]  # file under data/ -> text
    spec: dict[str, Any]
    reported: Callable[[dict[str, Any]], float]  # the metric, from the hyperparameters


def mnist_loss(hp: dict[str, Any]) -> float:
    # The last epoch's "Test set: Average loss: {:.4f}" line, as SageMaker's regex reads it.
    loss = 100 * (hp["lr"] - 0.03) ** 2 + (1 - 0.5) / 10 + 0.1 / hp["epochs"]
    return float(f"{loss:.4f}")


KERNELS = {"rbf": 0.0, "linear": 0.05, "poly": 0.1}

SCRIPTS = {
    # hpo_pytorch_mnist.ipynb: the PyTorch estimator's hyperparameters, the tuner's ranges
    # and its metric definition (named without spaces: a Vertex study's metric_id has none).
    "sagemaker-pytorch-mnist": Script(
        "sagemaker_pytorch_mnist.py",
        "mnist.py",
        {"training/mnist.csv": "0,1\n1,7\n"},
        {
            "command": "python mnist.py",
            "inputs": {"training": "./data/training"},
            "hyperparameters": {"epochs": 2, "backend": "gloo", "lr": 0.01},
            "metrics": [
                {"name": "average_test_loss", "regex": r"Test set: Average loss: ([0-9\.]+)"}
            ],
            "tune": {
                "objective": {"metric": "average_test_loss", "goal": "minimize"},
                "parameters": {
                    "lr": {"type": "float", "min": 0.001, "max": 0.1},
                    "batch-size": {"type": "choice", "values": [32, 64, 128, 256, 512]},
                },
            },
        },
        mnist_loss,
    ),
    # cli/jobs/basics/hello-sweep.yml
    "azureml-hello-sweep": Script(
        "azureml_hello_sweep.py",
        "hello-sweep.py",
        {},
        {
            "command": "python hello-sweep.py",
            "hyperparameters": {"A": 0.5, "B": "hello world", "C": 1.0},
            "metrics": [{"name": "random_metric"}],
            "tune": {
                "objective": {"metric": "random_metric", "goal": "minimize"},
                "parameters": {
                    "B": {"type": "choice", "values": ["hello", "world", "hello_world"]},
                    "C": {"type": "float", "min": 0.1, "max": 1.0},
                },
            },
        },
        lambda hp: (hp["C"] - 0.4) ** 2 + len(hp["B"]) / 100 + hp["A"] / 10,
    ),
    # cli/jobs/single-step/scikit-learn/iris/job-sweep.yml: the CSV as an input in argv.
    "azureml-sklearn-iris": Script(
        "azureml_sklearn_iris.py",
        "main.py",
        {"iris.csv": IRIS},
        {
            "command": "python main.py --iris-csv ${{inputs.iris_csv}}",
            "inputs": {"iris_csv": "./data/iris.csv"},
            "hyperparameters": {"C": 0.8, "kernel": "rbf", "coef0": 0.5},
            "metrics": [{"name": "training_f1_score"}],
            "tune": {
                "objective": {"metric": "training_f1_score", "goal": "minimize"},
                "parameters": {
                    "C": {"type": "float", "min": 0.5, "max": 0.9},
                    "kernel": {"type": "choice", "values": list(KERNELS)},
                    "coef0": {"type": "float", "min": 0.1, "max": 1.0},
                },
            },
        },
        lambda hp: 1 - (hp["C"] - 0.7) ** 2 - KERNELS[hp["kernel"]] - hp["coef0"] / 10 - 0.003,
    ),
    # hyperparameter_tuning_xgboost.ipynb: a Python package run as `-m trainer.task`, the
    # data and labels URLs in argv (`--name=value`, as the notebook's CMDARGS).
    "vertex-xgboost-hypertune": Script(
        "vertex_xgboost_hypertune.py",
        "trainer/task.py",
        {"iris_data.csv": "a,b\n1,2\n3,4\n", "iris_target.csv": "t\n0\n1\n"},
        {
            "command": "python -m trainer.task",
            "args": [
                "--dataset-data-url=${{inputs.iris_data}}",
                "--dataset-labels-url=${{inputs.iris_target}}",
            ],
            "inputs": {
                "iris_data": "./data/iris_data.csv",
                "iris_target": "./data/iris_target.csv",
            },
            "hyperparameters": {"boost-rounds": 20},
            "metrics": [{"name": "accuracy"}],
            "tune": {
                "objective": {"metric": "accuracy", "goal": "maximize"},
                "parameters": {"boost-rounds": {"type": "int", "min": 1, "max": 60}},
            },
        },
        lambda hp: 1 - ((hp["boost-rounds"] - 30) / 100) ** 2 - 0.002,
    ),
}
NAMES = list(SCRIPTS)


def project(tmp_path: Path, name: str, **fields: Any) -> Path:
    """The script's project under ``tmp_path/project``: the re-creation, unchanged, under
    its original's file name in ``code``, its data in ``data``; ``fields`` add to the spec."""
    script = SCRIPTS[name]
    root = tmp_path / "project"
    target = root / "code" / script.path
    target.parent.mkdir(parents=True)
    shutil.copyfile(FIXTURES / script.fixture, target)
    if "/" in script.path:  # a package, as Vertex's python_package_spec runs it
        write(target.parent / "__init__.py", "")
    for relative, text in script.data.items():
        write(root / "data" / relative, text)
    spec = {**script.spec, "tune": {**script.spec["tune"], **TUNING}}
    doc = {"name": name, "code": "./code", **spec, **fields}
    return write(root / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def reported(name: str, params: dict[str, Any]) -> float:
    """What the script reports with the spec's hyperparameters and ``params`` over them."""
    script = SCRIPTS[name]
    return script.reported({**script.spec["hyperparameters"], **params})


def tuned(mlx: Any, spec: Path, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``mlx tune --json``: every trial succeeded with the script's value as its objective,
    and the best is the best of them for the objective's goal."""
    result = mlx("tune", spec, "--json")
    summary = json.loads(result.stdout)
    if result.exit_code != 0:  # the first trial's log says why
        logs = mlx("logs", summary["id"], "--trial", "0")
        raise AssertionError(result.stderr + logs.stdout + logs.stderr)
    trials = summary["trials"]
    assert [t["state"] for t in trials] == ["succeeded"] * TRIALS, trials
    for trial in trials:
        assert trial["objective"] == pytest.approx(reported(name, trial["params"]), rel=1e-9)
    goal = SCRIPTS[name].spec["tune"]["objective"]["goal"]
    pick = min if goal == "minimize" else max
    assert summary["best"]["number"] == pick(trials, key=lambda t: t["objective"])["number"]
    return summary, trials


@pytest.mark.parametrize("name", NAMES)
def test_trains_and_tunes_on_local(mlx: Any, tmp_path: Path, name: str) -> None:
    spec = project(tmp_path, name)
    trained = mlx("train", spec, "--json")
    assert trained.exit_code == 0, trained.stdout + trained.stderr
    metric = SCRIPTS[name].spec["metrics"][0]["name"]
    expected = reported(name, {})
    assert json.loads(trained.stdout)["metrics"] == {metric: pytest.approx(expected, rel=1e-12)}
    tuned(mlx, spec, name)


# -- the emulated clouds --------------------------------------------------------------------


@dataclass
class Cloud:
    """A platform whose test server runs the jobs: the spec's provider fields, and the
    objective values its own tuner received, one per trial."""

    fields: dict[str, Any]
    received: Callable[[], list[float]]
    # Where the platform needs it: the project's inputs and code, made ready for it; the
    # spec fields that change.
    prepare: Callable[[Path, dict[str, Any]], dict[str, Any]] = lambda root, spec: {}


def sagemaker(request: pytest.FixtureRequest, tmp_path: Path) -> Cloud:
    aws = request.getfixturevalue("aws")
    aws.client("s3").create_bucket(Bucket=SM_BUCKET)
    runs = aws.execute_jobs()
    fields = {"provider": "sagemaker", "image": SM_IMAGE, "sagemaker": dict(SM_SETTINGS)}
    # What SageMaker's tuner read from each training job's log with the MetricDefinitions.
    return Cloud(fields, lambda: [v for values in runs.objectives.values() for v in values])


def vertex(request: pytest.FixtureRequest, tmp_path: Path) -> Cloud:
    gcp = Gcp(*(request.getfixturevalue(f) for f in ("vertex", "cloud_logging", "gcs")))
    gcp.storage().create_bucket(VX_BUCKET)
    runs = request.getfixturevalue("vertex_runs")

    def received() -> list[float]:  # each trial's finalMeasurement in the study
        number, _job = gcp.wait_for_job("CreateHyperparameterTuningJob")
        values = runs.objectives(number)
        assert None not in values, values
        return [v for v in values if v is not None]

    fields = {"provider": "vertex", "image": VX_IMAGE, "vertex": dict(VX_SETTINGS)}
    return Cloud(fields, received)


def azure(request: pytest.FixtureRequest, tmp_path: Path) -> Cloud:
    server = request.getfixturevalue("azureml")
    runs = server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")

    def received() -> list[float]:  # what the sweep read from each trial's MLflow run
        assert not runs.failures, runs.failures
        (values,) = runs.objectives.values()
        return [v for v in values.values() if v is not None]

    def prepare(root: Path, spec: dict[str, Any]) -> dict[str, Any]:
        write(root / "code" / STANDIN / "sitecustomize.py", AZUREML_MLFLOW_STANDIN)
        env = {"PYTHONPATH": STANDIN}
        return {"inputs": in_datastore(server, root, spec.get("inputs", {})), "env": env}

    fields = {"provider": "azure", "image": AZURE_IMAGE, "azure": dict(AZURE_SETTINGS)}
    return Cloud(fields, received, prepare)


# The test server's SDK cannot upload local inputs (it builds a URL this machine cannot
# resolve): the same files, put in the datastore, are the same inputs (as in
# tests/backends/azure/test_placeholders.py; the iris sweep's own input is a remote URI).
DATASTORE = "azureml://datastores/workspaceblobstore/paths/"


def in_datastore(server: Any, root: Path, inputs: dict[str, str]) -> dict[str, str]:
    blobs = server.azurite.service_client().get_container_client(server.blob_container)
    moved = {}
    for name, local in inputs.items():
        path = (root / local).resolve()
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            key = file.relative_to(root).as_posix()
            blobs.upload_blob(key, file.read_bytes(), overwrite=True)
        moved[name] = DATASTORE + path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
    return moved


# A script's own mlflow calls reach Azure ML's tracking through the azureml-mlflow plugin
# (an earlier hello-sweep.yml, on a plain python:3.8 image, began its command with `pip
# install mlflow azureml-mlflow`); the plugin's part that matters here is the job's token on
# every call. This machine's Python lacks the plugin, so the script's mlflow calls would get
# 401 "no bearer token": its stand-in goes on the job's PYTHONPATH; the script is unchanged.
STANDIN = "azureml_mlflow_standin"
AZUREML_MLFLOW_STANDIN = """import os
if "AZUREML_RUN_TOKEN" in os.environ:
    os.environ.setdefault("MLFLOW_TRACKING_TOKEN", os.environ["AZUREML_RUN_TOKEN"])
"""


CLOUDS = {"sagemaker": sagemaker, "vertex": vertex, "azure": azure}


@pytest.fixture(params=list(CLOUDS))
def cloud(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    monkeypatch.setenv("MLX_PACING", "fast")
    return CLOUDS[request.param](request, tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_the_same_spec_tunes_on_each_emulated_cloud(
    mlx: Any, tmp_path: Path, cloud: Cloud, name: str
) -> None:
    root = tmp_path / "project"
    spec = project(tmp_path, name, **cloud.fields)
    extra = cloud.prepare(root, SCRIPTS[name].spec)
    if extra:
        doc = {**yaml.safe_load(spec.read_text()), **extra}
        spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    _summary, trials = tuned(mlx, spec, name)
    expected = sorted(reported(name, t["params"]) for t in trials)
    assert sorted(cloud.received()) == pytest.approx(expected, rel=1e-9)
