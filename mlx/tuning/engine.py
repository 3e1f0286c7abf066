"""Which engine runs a tuning job's search: the platform's own tuner or mlx's.

``native`` hands the search to the provider's tuner (SageMaker's HPO, Vertex's Vizier,
Azure's sweep); ``mlx`` runs mlx's own search (``mlx.tuning.driver``: the samplers, pruners,
journal and resume of local tuning) on this machine, each trial a training job on the
provider. ``tune.engine`` chooses; unset, ``choose_engine`` picks per provider: mlx's
search where the provider's tuner may not run the spec's trials (its backend says why:
``Backend.native_tuner_gap``, e.g. SageMaker's tuner and an image without its training
toolkit), the provider's own elsewhere. On a provider whose jobs run here both are the
local tuner, which is mlx's search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from mlx.spec import JobSpec

Engine = Literal["native", "mlx"]


@dataclass(frozen=True)
class EngineChoice:
    """The engine for a spec, and a one-line note shown at submit and by ``translate
    --tune``: why, when it was not the spec's own word, or the risk the spec's word runs."""

    engine: Engine
    reason: Optional[str] = None


def choose_engine(spec: JobSpec) -> EngineChoice:
    """The engine that runs ``spec``'s search (``spec.tune`` must be set)."""
    assert spec.tune is not None
    from mlx import providers

    gap = providers.backend_for(spec.provider).native_tuner_gap(spec)
    if spec.tune.engine == "native" and gap:
        return EngineChoice("native", native_risk(gap))
    if spec.tune.engine is not None:
        return EngineChoice(spec.tune.engine)
    if gap:
        return EngineChoice("mlx", mlx_instead(gap, providers.get(spec.provider).title))
    return EngineChoice("native")


def mlx_instead(gap: str, title: str) -> str:
    return (
        f"{gap}: mlx runs the search, each trial a training job; set `tune.engine: native` "
        f"to use {title}'s tuner"
    )


def native_risk(gap: str) -> str:
    return (
        f"`tune.engine: native`, but {gap}; without it every trial fails at start (remove "
        "`tune.engine` to let mlx run the search, each trial a training job)"
    )
