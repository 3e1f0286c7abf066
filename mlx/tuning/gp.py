"""Bayesian optimization with a Gaussian process, as SageMaker's and Vertex's tuners do it.

``algorithm: bayesian`` means a GP model of the objective and expected improvement, which
finds a smooth optimum in far fewer trials than Optuna's default TPE (see
``bench/tune_bench.py``). Optuna's own ``GPSampler`` needs PyTorch; this one needs only
NumPy (already an Optuna dependency).

Numeric parameters (float, int; log scales in log space) are modelled jointly on the unit
cube. Categorical ones (``choice``, ``discrete``) are sampled by TPE independently. Trials
still running count as observations at the worst value seen (a pessimistic "constant
liar"), so parallel trials spread out instead of all testing the same point.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

# Candidate lengthscales and noise levels (on the unit cube, standardized objective); the
# pair with the highest marginal likelihood is used.
_LENGTHSCALES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2)
_NOISES = (1e-4, 1e-2, 1e-1)
_ERF = np.vectorize(math.erf)


class GPSampler(BaseSampler):
    """GP + expected improvement over numeric parameters; TPE for categorical ones."""

    def __init__(
        self, seed: Optional[int] = None, n_startup_trials: int = 5, candidates: int = 2000
    ) -> None:
        self._rng = np.random.default_rng(seed)
        self._independent = TPESampler(seed=seed, n_startup_trials=n_startup_trials)
        self._space = IntersectionSearchSpace()
        self._startup = n_startup_trials
        self._candidates = candidates

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        numeric = (FloatDistribution, IntDistribution)
        return {n: d for n, d in self._space.calculate(study).items() if isinstance(d, numeric)}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        names = sorted(search_space)
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        done = [
            t
            for t in trials
            if t.state == TrialState.COMPLETE and all(n in t.params for n in names)
        ]
        if len(done) < self._startup:
            return {}
        pending = [
            t
            for t in trials
            if t.state == TrialState.RUNNING
            and t.number != trial.number
            and all(n in t.params for n in names)
        ]
        x = np.array(
            [[_to_unit(search_space[n], t.params[n]) for n in names] for t in done + pending]
        )
        y = np.array([t.value for t in done], dtype=float)
        if study.direction == StudyDirection.MAXIMIZE:
            y = -y
        y = np.concatenate([y, np.full(len(pending), y.max())])
        best = self._suggest(x, (y - y.mean()) / (y.std() or 1.0), len(done))
        return {n: _from_unit(search_space[n], u) for n, u in zip(names, best)}

    def _suggest(self, x: np.ndarray, y: np.ndarray, observed: int) -> np.ndarray:
        lengthscale, chol, alpha = _fit(x, y)
        incumbent = x[int(np.argmin(y[:observed]))]
        dims = x.shape[1]
        # Global random candidates, plus ever tighter clouds around the best point so far.
        candidates = np.vstack(
            [
                self._rng.random((self._candidates, dims)),
                *(
                    np.clip(
                        incumbent + self._rng.normal(0, scale, (self._candidates // 2, dims)), 0, 1
                    )
                    for scale in (0.05, 0.01, 0.002)
                ),
            ]
        )
        cross = _kernel(candidates, x, lengthscale)
        mean = cross @ alpha
        v = np.linalg.solve(chol, cross.T)
        std = np.sqrt(np.maximum(1.0 - (v**2).sum(axis=0), 1e-12))
        z = (y[:observed].min() - mean) / std
        improvement = (y[:observed].min() - mean) * 0.5 * (1 + _ERF(z / math.sqrt(2)))
        improvement += std * np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
        return candidates[int(np.argmax(improvement))]

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._independent.sample_independent(study, trial, param_name, param_distribution)


def _kernel(a: np.ndarray, b: np.ndarray, lengthscale: float) -> np.ndarray:
    squared = (((a[:, None, :] - b[None, :, :]) / lengthscale) ** 2).sum(axis=-1)
    return np.exp(-0.5 * squared)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The (lengthscale, noise) pair of highest marginal likelihood, and its factors."""
    best: Optional[tuple[float, float, np.ndarray, np.ndarray]] = None
    for lengthscale in _LENGTHSCALES:
        base = _kernel(x, x, lengthscale)
        for noise in _NOISES:
            try:
                chol = np.linalg.cholesky(base + noise * np.eye(len(x)))
            except np.linalg.LinAlgError:
                continue
            alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y))
            likelihood = -0.5 * y @ alpha - np.log(np.diag(chol)).sum()
            if best is None or likelihood > best[0]:
                best = (likelihood, lengthscale, chol, alpha)
    assert best is not None  # the largest noise always factors
    return best[1], best[2], best[3]


def _bounds(dist: Any) -> tuple[float, float]:
    low, high = float(dist.low), float(dist.high)
    return (math.log(low), math.log(high)) if dist.log else (low, high)


def _to_unit(dist: Any, value: float) -> float:
    low, high = _bounds(dist)
    value = math.log(value) if dist.log else float(value)
    return (value - low) / (high - low)


def _from_unit(dist: Any, unit: float) -> Any:
    low, high = _bounds(dist)
    value = low + float(unit) * (high - low)
    value = math.exp(value) if dist.log else value
    if isinstance(dist, IntDistribution):
        value = round(value)
    return min(max(value, dist.low), dist.high)
