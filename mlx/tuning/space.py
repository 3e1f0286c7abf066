"""The spec's ``tune:`` block in Optuna's terms (imported only when tuning locally).

The spec itself validates the search space for every provider (``mlx.spec.Tune``); this
module only maps it: ``bayesian`` -> a Gaussian-process sampler (``gp.py``), ``random``,
``grid``, ``hyperband`` -> TPE with the Hyperband pruner, and ``early_stopping`` elsewhere
-> the median pruner.
"""

from __future__ import annotations

import math
from typing import Any, Optional

from mlx.spec import Parameter, Tune


def distribution(param: Parameter) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    log = param.scale == "log"
    if param.type == "float":
        return FloatDistribution(param.min, param.max, log=log)  # type: ignore[arg-type]
    if param.type == "int":
        return IntDistribution(int(param.min), int(param.max), log=log)  # type: ignore[arg-type]
    return CategoricalDistribution(list(param.values or []))


def distributions(tune: Tune) -> dict[str, Any]:
    return {name: distribution(p) for name, p in tune.parameters.items()}


def grid_values(param: Parameter) -> list[Any]:
    if param.type == "int":
        return list(range(int(param.min), int(param.max) + 1))  # type: ignore[arg-type]
    return list(param.values or [])


def grid_size(tune: Tune) -> Optional[int]:
    if tune.algorithm != "grid":
        return None
    return math.prod(len(grid_values(p)) for p in tune.parameters.values())


def sampler(tune: Tune) -> Any:
    import optuna

    if tune.algorithm == "random":
        return optuna.samplers.RandomSampler(seed=tune.seed)
    if tune.algorithm == "grid":
        space = {name: grid_values(p) for name, p in tune.parameters.items()}
        return optuna.samplers.GridSampler(space, seed=tune.seed)
    # A few random trials first (at most a quarter of the budget), then the model.
    startup = max(3, min(5, tune.max_trials // 4))
    if tune.algorithm == "bayesian":
        from mlx.tuning.gp import GPSampler

        return GPSampler(seed=tune.seed, n_startup_trials=startup)
    # Hyperband stops trials early and so needs many cheap ones: TPE's pace.
    return optuna.samplers.TPESampler(seed=tune.seed, n_startup_trials=startup, multivariate=True)


def pruner(tune: Tune) -> Any:
    import optuna

    if tune.algorithm == "hyperband":
        # Optuna's "auto" takes the most steps the first finished trial reported.
        return optuna.pruners.HyperbandPruner(max_resource=tune.max_resource or "auto")
    if tune.early_stopping:
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def describe(tune: Tune) -> dict[str, Any]:
    """What the local tuner will do, for ``translate --tune`` (no Optuna import)."""
    samplers = {
        "bayesian": "GPSampler(expected improvement)",
        "random": "RandomSampler",
        "grid": "GridSampler",
        "hyperband": "TPESampler(multivariate)",
    }
    pruners = (
        "HyperbandPruner"
        if tune.algorithm == "hyperband"
        else ("MedianPruner" if tune.early_stopping else None)
    )
    return {
        "sampler": samplers[tune.algorithm],
        "pruner": pruners,
        "direction": tune.objective.goal,
        "metric": tune.objective.metric,
        "max_trials": min(tune.max_trials, grid_size(tune) or tune.max_trials),
        "parallel_trials": tune.parallel_trials,
        "seed": tune.seed,
        "parameters": {
            name: p.model_dump(exclude_none=True) for name, p in tune.parameters.items()
        },
    }
