"""`mlx price` through the real CLI, with the network cut off."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import write

SPEC = """\
name: priced
provider: sagemaker
command: python train.py
image:  # SageMaker pulls from Amazon ECR only
  sagemaker: 123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1
  vertex: python:3.11-slim
  azure: python:3.11-slim
resources: {accelerator: A100:1, nodes: 2, max_runtime: 10h}
"""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("mlx price tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_price_table_shows_every_provider_and_the_sagemaker_warning(
    mlx, tmp_path: Path, no_network: None
) -> None:
    spec = write(tmp_path / "job.yaml", SPEC)
    result = mlx("price", spec)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for provider, instance in (
        ("sagemaker", "ml.p4d.24xlarge"),
        ("vertex", "a2-highgpu-1g"),
        ("azure", "Standard_NC24ads_A100_v4"),
    ):
        line = next(line for line in text.splitlines() if line.startswith(provider))
        assert instance in line and "× 2" in line and "$" in line
    assert "A100:1 on sagemaker only comes as 8 in ml.p4d.24xlarge; you pay for 8" in text
    assert "as of 2026-11-23" in text


def test_price_json_has_the_documented_keys(mlx, tmp_path: Path, no_network: None) -> None:
    rows = json.loads(mlx("price", write(tmp_path / "job.yaml", SPEC), "--json").stdout)
    assert [r["provider"] for r in rows] == ["sagemaker", "vertex", "azure"]
    sagemaker = rows[0]
    assert (
        sagemaker["instance_type"],
        sagemaker["accelerator"],
        sagemaker["accelerator_count"],
        sagemaker["nodes"],
    ) == ("ml.p4d.24xlarge", "A100", 8, 2)
    assert sagemaker["max_cost"] == pytest.approx(sagemaker["price_per_hour"] * 2 * 10)
    assert any("you pay for 8" in w for w in sagemaker["warnings"])
    assert rows[1]["warnings"] == []


def test_impossible_request_is_an_error_row_not_a_crash(mlx, tmp_path: Path) -> None:
    spec = write(tmp_path / "job.yaml", SPEC.replace("A100:1", "L4:3"))
    rows = json.loads(mlx("price", spec, "--json").stdout)
    vertex = next(r for r in rows if r["provider"] == "vertex")
    assert "L4:3 is not offered on vertex; nearest: L4:2 (g2-standard-24)" in vertex["error"]


def test_translate_shows_the_chosen_instance_and_its_price(
    mlx, tmp_path: Path, no_network: None
) -> None:
    spec = write(
        tmp_path / "job.yaml",
        SPEC + "sagemaker: {role: 'arn:aws:iam::123456789012:"
        "role/SageMakerRole', bucket: my-bucket, region: us-east-1}\n"
        "vertex: {project: my-project, bucket: gs://my-bucket}\n",
    )
    sagemaker = mlx("translate", spec, "--json")
    assert sagemaker.exit_code == 0, sagemaker.stderr
    assert json.loads(sagemaker.stdout)["request"]["ResourceConfig"]["InstanceType"] == (
        "ml.p4d.24xlarge"
    )
    assert (
        "Instance: ml.p4d.24xlarge (8× A100): $37.69/h on-demand × 2 nodes = $75.38/h; "
        "max $753.76 for 10h"
    ) in sagemaker.stderr
    vertex = mlx("translate", spec, "-p", "vertex", "--json")
    assert vertex.exit_code == 0, vertex.stderr
    assert "Instance: a2-highgpu-1g" in vertex.stderr
