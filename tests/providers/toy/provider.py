"""The toy provider's descriptor and settings model."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from mlx.providers import Capability, Provider
from mlx.spec_base import StrictModel


class ToySettings(StrictModel):
    """The spec's `toy:` block."""

    root: Optional[str] = Field(None, description="the directory the toy cloud keeps jobs in")


PROVIDER = Provider(
    name="toy",
    title="Toy cloud",
    backend="tests.providers.toy.backend:ToyBackend",
    settings="tests.providers.toy.provider:ToySettings",
    capabilities=frozenset({Capability.TUNING, Capability.NEEDS_IMAGE}),
    rank=90,
)
