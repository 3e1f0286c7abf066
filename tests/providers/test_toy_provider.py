"""A provider from outside mlx, registered only through the ``mlx.providers`` entry point
group, passes the same backend contract as the built-in ones: nothing under ``mlx/``
names it or had to change for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends.contract import BackendContract

ENTRY_POINTS = "[mlx.providers]\ntoy = tests.providers.toy.provider:PROVIDER\n"


@pytest.fixture(autouse=True)
def toy_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An installed distribution that declares the toy provider, as pip would leave it."""
    from mlx import providers

    dist = tmp_path / "site" / "mlx_toy_provider-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlx-toy-provider\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    providers.reset()
    yield
    providers.reset()


class TestToyContract(BackendContract):
    """The toy cloud runs the contract's script for real (see tests/providers/toy)."""

    bootstrap = False  # the toy runs the script bare, without mlx's bootstrap

    @pytest.fixture(autouse=True)
    def _fast(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MLX_PACING", "fast")

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "toy", "image": "python:3.11-slim"}


def test_the_registry_reads_its_descriptor_settings_and_capabilities(
    mlx: Any, tmp_path: Path
) -> None:
    doctor = json.loads(mlx("doctor", "--json").stdout)
    assert doctor["providers"]["toy"]["sdk_installed"] is True  # it declares no SDK
    spec = tmp_path / "job.yaml"
    spec.write_text("name: t\nprovider: toy\ncommand: python x.py\ntoy: {rot: /tmp}\n")
    result = mlx("translate", spec)
    assert result.exit_code == 1
    assert "unknown field `toy.rot`; did you mean `toy.root`?" in result.stderr
    spec.write_text("name: t\nprovider: toy\ncommand: python x.py\n")
    result = mlx("translate", spec)
    assert result.exit_code == 1
    assert "`image` is required to run on toy" in result.stderr  # Capability.NEEDS_IMAGE
