"""``--rehearse``: the README's cloud job run on this machine by each platform's runner,
with no credentials and no endpoint that answers, recorded and read like any other job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

CLOUDS = ("sagemaker", "vertex", "azure")
QUICKSTART = REPO / "configs" / "quickstart.yaml"
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers a call that is made

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def no_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials anywhere, every endpoint a closed port."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
                 "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_ID"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", NOWHERE)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("MLX_REHEARSAL_RUNTIME", "sandbox")
    monkeypatch.setenv("MLX_PACING", "fast")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_quickstart_rehearsed_on_each_cloud_trains_and_its_model_is_pulled(
    mlx: Any, cloud: str, tmp_path: Path
) -> None:
    result = mlx("train", QUICKSTART, "-p", cloud, "--rehearse")
    assert result.exit_code == 0, result.stderr
    assert f"on {cloud} (rehearsed on this machine, sandbox)" in result.stderr
    assert "Note: no Docker daemon here" in result.stderr
    assert "val_accuracy=" in result.stdout  # the script's own log, followed live
    job = json.loads(mlx("jobs", "--json").stdout)[0]
    assert (job["provider"], job["rehearsal"], job["state"]) == (cloud, "sandbox", "succeeded")
    assert job["metrics"]["val_accuracy"] > 0.8
    listed = mlx("jobs")
    assert f"{cloud} (rehearsal)" in listed.stdout

    pulled = mlx("pull-artifacts", job["id"], "-i", "model/*", "--dest", tmp_path / "out", "--json")
    assert pulled.exit_code == 0, pulled.stderr
    model = json.loads((tmp_path / "out" / "model" / "model.json").read_text())
    assert model  # the weights the script wrote, at the cloud's layout in the local bucket
    staged = Path(mlx_home()) / "rehearsal" / "buckets"
    assert any(p.name == "train.py" for p in staged.rglob("train.py"))  # the staged code


def mlx_home() -> str:
    import os

    return os.environ["MLX_HOME"]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_rehearsed_job_is_cancelled_like_any_other(mlx: Any, cloud: str, tmp_path: Path) -> None:
    spec = tmp_path / "hold.yaml"
    doc = yaml.safe_load(QUICKSTART.read_text())  # its images: each cloud's own
    doc = {"name": "hold", "image": doc["image"], "command": "sleep 600"}
    spec.write_text(yaml.safe_dump(doc))
    started = mlx("train", spec, "-p", cloud, "--rehearse", "--detach", "--json")
    assert started.exit_code == 0, started.stderr
    job = json.loads(started.stdout)["id"]
    cancelled = mlx("cancel", job)
    assert cancelled.exit_code == 0, cancelled.stderr
    assert json.loads(mlx("status", job, "--json").stdout)["state"] == "cancelled"


def test_rehearse_is_for_clouds(mlx: Any) -> None:
    result = mlx("train", QUICKSTART, "--rehearse")
    assert result.exit_code == 1
    assert "local jobs already run here" in result.stderr


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_rehearsed_tuning_job_runs_its_trials_the_platform_way(
    mlx: Any, cloud: str, tmp_path: Path
) -> None:
    spec = REPO / "configs" / "tune-quickstart.yaml"
    result = mlx("tune", spec, "-p", cloud, "--rehearse", "--set", "tune.max_trials=3", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    trials = summary["trials"]
    assert [t["state"] for t in trials] == ["succeeded"] * 3
    assert all(t["objective"] is not None for t in trials)  # the tuner read each objective
    best = summary["best"]
    logs = mlx("logs", summary["id"], "--trial", "best")
    assert logs.exit_code == 0 and "val_loss=" in logs.stdout, logs.stderr
    dest = tmp_path / "best"
    pulled = mlx(
        "pull-artifacts", summary["id"], "--trial", "best", "-i", "model/*", "--dest", dest
    )
    assert pulled.exit_code == 0, pulled.stderr
    assert (dest / "model" / "model.json").is_file()
    assert best["params"]["learning-rate"] > 0
