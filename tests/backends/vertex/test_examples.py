"""The specs mlx ships (``configs/``) and the README's spec example, submitted to the Vertex
test server: it parses each request strictly with the pinned ``aiplatform_v1`` protos and
enforces the documented rules (``tests/emulators/vertex.py``), so an example that Vertex AI
would refuse fails here."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backends.vertex.conftest import SETTINGS, Gcp
from tests.conftest import REPO, readme_project, write


@pytest.fixture(autouse=True)
def vertex_settings() -> None:
    """The project and bucket a user keeps in ~/.config/mlx/config.yaml."""
    write(Path(os.environ["MLX_CONFIG"]), yaml.safe_dump({"vertex": dict(SETTINGS)}))


def submitted(mlx: Any, gcp: Gcp, spec: Path, *extra: str, tune: bool = False) -> Any:
    """The job the server accepted for ``spec`` (``tune``: the tuning job)."""
    verb = "tune" if tune else "train"
    result = mlx(verb, spec, "--provider", "vertex", "--detach", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    kind = "CreateHyperparameterTuningJob" if tune else "CreateCustomJob"
    assert len(gcp.vertex.requests(kind)) == 1
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("name", "tune"),
    [("quickstart.yaml", False), ("tune-quickstart.yaml", False), ("tune-quickstart.yaml", True)],
)
def test_shipped_specs_are_jobs_vertex_accepts(mlx: Any, gcp: Gcp, name: str, tune: bool) -> None:
    job = submitted(mlx, gcp, REPO / "configs" / name, tune=tune)
    kind = "hyperparameterTuningJobs" if tune else "customJobs"
    assert re.fullmatch(rf"projects/\d+/locations/us-central1/{kind}/\d+", job["native_id"])


@pytest.mark.parametrize("tune", [False, True])
def test_the_readme_spec_example_is_a_job_vertex_accepts(
    mlx: Any, gcp: Gcp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tune: bool
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "not-a-real-key")
    spec = readme_project(tmp_path / "project")
    # Its `train` input is an s3:// URI, which Vertex AI cannot mount: mlx says so first.
    refused = mlx("translate", spec, "--provider", "vertex")
    assert refused.exit_code == 1 and "s3://" in refused.stderr
    assert "Traceback" not in refused.stderr
    train = "inputs.train=gs://mlx-test/data/train/"
    submitted(mlx, gcp, spec, "--set", train, tune=tune)
