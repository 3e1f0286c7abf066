"""A training job's metrics on Azure ML, whatever channel the script reported through
(issue #14): the bootstrap keeps mlx's record in the job's ``output`` output, and
``mlx status``/``mlx train`` read it once the job has ended, as on SageMaker and Vertex.
The jobs run for real on the emulated Azure ML (mlx's Azure ML runner, sandbox runtime)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.backends.contract import started
from tests.conftest import write
from tests.fixtures.reporting import final_loss, reporting_spec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIELDS = {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)}

# Prints its metric on stdout, and writes an artifact of its own to the output dir.
STDOUT_SCRIPT = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
args = parser.parse_args()
for epoch, loss in enumerate([1.0 + args.lr, (args.lr - 0.03) ** 2]):
    print("epoch %d val_loss=%r" % (epoch, loss), flush=True)
with open(os.path.join(os.environ["MLX_OUTPUT_DIR"], "report.txt"), "w") as f:
    f.write("done")
"""


@pytest.fixture
def executing(azure: Azure, tmp_path: Path) -> Azure:
    azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")
    return azure


def spec_for(tmp_path: Path, channel: str) -> Path:
    spec = reporting_spec(tmp_path, "hypertune" if channel == "hypertune" else "logging", **FIELDS)
    if channel == "stdout":
        write(tmp_path / "project" / "code" / "train.py", STDOUT_SCRIPT)
    return spec


@pytest.mark.parametrize("channel", ["stdout", "hypertune"])
def test_a_training_jobs_metrics_are_shown_whatever_the_channel(
    executing: Azure, mlx: Any, tmp_path: Path, channel: str
) -> None:
    trained = mlx("train", spec_for(tmp_path, channel), "--json")
    assert trained.exit_code == 0, trained.stderr
    expected = {"val_loss": pytest.approx(final_loss(0.1), rel=1e-12)}
    assert json.loads(trained.stdout)["metrics"] == expected
    job = started(trained.stderr)
    status = mlx("status", job, "--json")
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["metrics"] == expected
    # mlx's own record is in the job's datastore, but it is no artifact of the job.
    blobs = [b.name for b in executing.blobs().list_blobs(name_starts_with=f"mlx/{job}/")]
    assert f"mlx/{job}/output/.mlx/metrics.jsonl" in blobs
    listing = mlx("pull-artifacts", job, "--list", "--json")
    assert listing.exit_code == 0, listing.stderr
    paths = [a["path"] for a in json.loads(listing.stdout)]
    assert not [p for p in paths if ".mlx" in p]
    if channel == "stdout":
        assert "output/report.txt" in paths


def test_a_job_without_metrics_writes_no_record(executing: Azure, mlx: Any, tmp_path: Path) -> None:
    spec = spec_for(tmp_path, "stdout")
    doc = yaml.safe_load(spec.read_text())
    del doc["metrics"], doc["tune"]
    spec.write_text(yaml.safe_dump(doc))
    trained = mlx("train", spec, "--json")
    assert trained.exit_code == 0, trained.stderr
    assert json.loads(trained.stdout)["metrics"] == {}
    job = started(trained.stderr)
    blobs = [b.name for b in executing.blobs().list_blobs(name_starts_with=f"mlx/{job}/")]
    assert blobs == [f"mlx/{job}/output/report.txt"]
