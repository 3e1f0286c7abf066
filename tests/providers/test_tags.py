"""The spec's ``tags:`` in each provider's request, checked against its rules before any
call (``mlx translate`` makes none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.backends.azure.conftest import azure_spec
from tests.backends.sagemaker.conftest import sagemaker_spec
from tests.backends.vertex.conftest import vertex_spec

SPECS: dict[str, Callable[..., Path]] = {
    "sagemaker": sagemaker_spec,
    "vertex": vertex_spec,
    "azure": azure_spec,
}


def sent(provider: str, request: dict[str, Any]) -> dict[str, str]:
    if provider == "sagemaker":
        return {t["Key"]: t["Value"] for t in request["Tags"]}
    if provider == "vertex":
        return dict(request["customJob"]["labels"])
    return dict(request["tags"])


@pytest.mark.parametrize("provider", sorted(SPECS))
def test_tags_are_sent_beside_mlx_own(
    mlx: Any, tmp_path: Path, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLX_AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("MLX_AZURE_RESOURCE_GROUP", "rg")
    monkeypatch.setenv("MLX_AZURE_WORKSPACE", "ws")
    spec = SPECS[provider](tmp_path, tags={"team": "vision", "cost-center": 42})
    result = mlx("translate", spec, "--json")
    assert result.exit_code == 0, result.stderr
    tags = sent(provider, json.loads(result.stdout)["request"])
    assert tags.items() >= {"team": "vision", "cost-center": "42"}.items()
    assert tags["mlx-job-id"]


@pytest.mark.parametrize(
    ("provider", "tag", "message"),
    [
        ("vertex", "Team=vision", "`tags`: 'Team' is not a valid Vertex AI key"),
        ("vertex", "team=Vision", "`tags.team`: 'Vision' is not a valid Vertex AI value"),
        ("sagemaker", "aws:owner=me", "`tags`: 'aws:owner' is not a valid SageMaker key"),
        ("sagemaker", "team=a#b", "`tags.team`: 'a#b' is not a valid SageMaker value"),
        ("azure", "a/b=c", "`tags`: 'a/b' is not a valid Azure ML key"),
        ("azure", "mlx-job-id=x", "`tags`: 'mlx-job-id' is not a valid Azure ML key"),
    ],
)
def test_a_tag_the_provider_refuses_is_one_line_before_any_call(
    mlx: Any, tmp_path: Path, provider: str, tag: str, message: str, monkeypatch
) -> None:
    monkeypatch.setenv("MLX_AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("MLX_AZURE_RESOURCE_GROUP", "rg")
    monkeypatch.setenv("MLX_AZURE_WORKSPACE", "ws")
    key, _, value = tag.partition("=")
    spec = SPECS[provider](tmp_path, tags={key: value})
    result = mlx("translate", spec)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {message}"
    assert lines[1].startswith("Hint: ") and "http" in lines[1]


def test_too_many_labels_for_vertex(mlx: Any, tmp_path: Path) -> None:
    spec = vertex_spec(tmp_path, tags={f"k{i}": "v" for i in range(64)})
    result = mlx("translate", spec)
    assert result.exit_code == 1
    assert "Error: `tags`: 64 given; Vertex AI takes at most 63 besides mlx's own" in result.stderr
