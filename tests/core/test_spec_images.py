"""`image:` as one image, or one per provider (a registry one cloud pulls from may be closed
to another: SageMaker pulls from Amazon ECR only); and metric names of any one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlx.errors import SpecError
from mlx.spec import load_spec
from tests.conftest import write

SPEC = """\
name: demo
command: python train.py
image:
  sagemaker: 123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1
  vertex: python:3.11-slim
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    write(tmp_path / "train.py", "print('hi')\n")
    return write(tmp_path / "job.yaml", SPEC)


@pytest.mark.parametrize(
    ("provider", "image"),
    [
        ("sagemaker", "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1"),
        ("vertex", "python:3.11-slim"),
        ("local", None),  # this machine runs without an image
    ],
)
def test_the_chosen_provider_gets_its_image(spec: Path, provider: str, image: Any) -> None:
    assert load_spec(spec, provider=provider).image == image


def test_a_provider_the_mapping_does_not_name_is_a_clear_error(mlx: Any, spec: Path) -> None:
    result = mlx("translate", spec, "--provider", "azure")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {spec}:3: `image`: no image for azure: ")
    assert "the mapping names one for sagemaker, vertex; add `azure: <image>`" in result.stderr


def test_an_unknown_provider_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    write(tmp_path / "train.py", "")
    path = write(tmp_path / "job.yaml", SPEC.replace("  vertex:", "  vertx:"))
    with pytest.raises(SpecError, match=r"`vertx` is not a provider .*did you mean `vertex`"):
        load_spec(path, provider="sagemaker")


def test_the_schema_offers_both_forms(mlx: Any) -> None:
    import json

    schema = json.loads(mlx("schema").stdout)
    kinds = [item.get("type") for item in schema["properties"]["image"]["anyOf"]]
    assert kinds == ["string", "object", "null"]


@pytest.mark.parametrize("name", ["average test loss", "val/loss (smoothed)", "x" * 255])
def test_metric_names_are_any_one_line(tmp_path: Path, name: str) -> None:
    write(tmp_path / "train.py", "")
    path = write(
        tmp_path / "job.yaml",
        f"name: demo\ncommand: python train.py\nmetrics: [{{name: '{name}'}}]\n",
    )
    assert load_spec(path, provider="local").metrics[0].name == name


@pytest.mark.parametrize("name", ["", " loss", "loss\\nnext", "x" * 256])
def test_metric_names_that_no_platform_takes_are_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path / "train.py", "")
    path = write(
        tmp_path / "job.yaml",
        f'name: demo\ncommand: python train.py\nmetrics: [{{name: "{name}"}}]\n',
    )
    with pytest.raises(SpecError, match=r"`metrics\[0\]\.name`|`metrics.0.name`"):
        load_spec(path, provider="local")
