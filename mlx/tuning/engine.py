"""Which engine runs a tuning job's search: the platform's own tuner or mlx's.

``native`` hands the search to the provider's tuner (SageMaker's HPO, Vertex's Vizier,
Azure's sweep); ``mlx`` runs mlx's own search (``mlx.tuning.driver``: the samplers, pruners,
journal and resume of local tuning) on this machine, each trial a training job on the
provider. ``tune.engine`` chooses; unset, ``choose_engine`` picks per provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from mlx.spec import JobSpec

Engine = Literal["native", "mlx"]


@dataclass(frozen=True)
class EngineChoice:
    """The engine for a spec, and why, when it was not the spec's own word (a one-line
    note shown at submit and by ``translate --tune``)."""

    engine: Engine
    reason: Optional[str] = None


def choose_engine(spec: JobSpec) -> EngineChoice:
    """The engine that runs ``spec``'s search (``spec.tune`` must be set)."""
    assert spec.tune is not None
    if spec.tune.engine is not None:
        return EngineChoice(spec.tune.engine)
    return EngineChoice("native")
