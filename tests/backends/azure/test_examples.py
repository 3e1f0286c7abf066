"""The specs mlx ships (``configs/``) and the README's spec example, submitted to the Azure ML
test server with the real SDK: the server checks each job with azure-ai-ml's schemas and the
documented rules (``tests/emulators/azureml_rules.py``), so an example that Azure ML would
refuse fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.backends.azure.conftest import Azure
from tests.conftest import REPO, readme_project

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster a user names in ~/.config/mlx/config.yaml or the environment."""
    monkeypatch.setenv("MLX_AZURE_COMPUTE", "gpu-cluster")


def submitted(mlx: Any, azure: Azure, spec: Path, *extra: str, tune: bool = False) -> dict:
    """What the server accepted for ``spec`` on Azure (``tune``: the sweep)."""
    verb = "tune" if tune else "train"
    result = mlx(verb, spec, "--provider", "azure", "--detach", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["id"]
    [put] = [r for r in azure.server.requests("PUT jobs") if r.path.endswith("/" + job)]
    assert put.status == 201, put.status
    props: dict = put.json["properties"]
    return props


# The shipped specs read local files, which azure-ai-ml uploads itself to
# https://<account>.blob.<storage suffix> (a URL it builds from the datastore, which this
# test server cannot serve); the same files already in the datastore are the same inputs.
UPLOADED = [
    f"inputs.{name}=azureml://datastores/workspaceblobstore/paths/data/{name}.csv"
    for name in ("train", "test")
]


@pytest.mark.parametrize(
    ("name", "tune"),
    [("quickstart.yaml", False), ("tune-quickstart.yaml", False), ("tune-quickstart.yaml", True)],
)
def test_shipped_specs_are_jobs_azure_ml_accepts(
    mlx: Any, azure: Azure, name: str, tune: bool
) -> None:
    sets = [word for setting in UPLOADED for word in ("--set", setting)]
    props = submitted(mlx, azure, REPO / "configs" / name, *sets, tune=tune)
    command = props["trial"]["command"] if tune else props["command"]
    assert command.split(" -- ", 1)[1].startswith("python train.py --")
    assert props["inputs"]["train"]["jobInputType"] == "uri_file"


@pytest.mark.parametrize("tune", [False, True])
def test_the_readme_spec_example_is_a_job_azure_ml_accepts(
    mlx: Any, azure: Azure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tune: bool
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "not-a-real-key")
    spec = readme_project(tmp_path / "project")
    # Its `train` input is an s3:// URI, which Azure ML cannot read: mlx says so first.
    refused = mlx("translate", spec, "--provider", "azure")
    assert refused.exit_code == 1
    assert "`inputs.train`: Azure ML cannot read s3:// URIs" in refused.stderr
    train = "inputs.train=azureml://datastores/workspaceblobstore/paths/data/train/"
    sets = ["--set", train, "--set", UPLOADED[1]]  # ./data/test.csv, uploaded (see above)
    props = submitted(mlx, azure, spec, *sets, tune=tune)
    command = props["trial"]["command"] if tune else props["command"]
    tail = command.split(" -- ", 1)[1]
    if tune:  # learning-rate is searched; the others keep their places
        assert tail == (
            "python train.py --config conf.yaml --data '${{inputs.train}}' "
            "--learning-rate '${{search_space.learning_rate}}' --layers 64 --layers 32 "
            "--use-amp --batch-size '${{search_space.batch_size}}' "
            "--optimizer '${{search_space.optimizer}}'"
        )
    else:
        assert tail == (
            "python train.py --config conf.yaml --data '${{inputs.train}}' "
            "--learning-rate '${{inputs.learning_rate}}' --layers 64 --layers 32 --use-amp"
        )
