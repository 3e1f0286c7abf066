"""The trial request ``translate --tune`` shows for mlx's engine on a cloud.

Each trial of ``tune.engine: mlx`` is a training job (``mlx.tuning.cloud_trials``): the
spec with the trial's sampled values merged over its hyperparameters. Which values is only
known when the search asks for them, so the template carries a placeholder, ``<name>``, in
each tuned hyperparameter's place; the rest of the request is the one every trial sends
(its job id aside).
"""

from __future__ import annotations

from typing import Any

from mlx.spec import JobSpec, Tune
from mlx.tuning.space import describe


def trial_spec(spec: JobSpec, params: dict[str, Any]) -> JobSpec:
    """``spec`` with a trial's sampled values merged over its hyperparameters."""
    return spec.model_copy(update={"hyperparameters": {**spec.hyperparameters, **params}})


def placeholders(tune: Tune) -> dict[str, str]:
    """``<name>`` for each tuned parameter: where the trial's sampled value goes."""
    return {name: f"<{name}>" for name in tune.parameters}


def search_settings(tune: Tune) -> dict[str, Any]:
    """What mlx's search does: the spec's algorithm, and the sampler, pruner and budget
    it maps to (the local tuner's: ``mlx.tuning.space``)."""
    return {"algorithm": tune.algorithm, **describe(tune)}
