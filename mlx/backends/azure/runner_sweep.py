"""A sweep job run the way Azure ML runs it: trials are child jobs ``<sweep>_<n>`` running the
sweep's ``trial`` command job with the sampled values substituted for
``${{search_space.<name>}}``, the sweep's ``inputs`` and ``outputs`` (``${{name}}`` in an
output path is the trial's name), and the primary metric read from what each trial logged
with MLflow (https://learn.microsoft.com/azure/machine-learning/how-to-tune-hyperparameters:
"the training script must ... log the primary metric ... with ``mlflow.log_metric``"; the
search-space distributions, ``sampling_algorithm``, ``max_total_trials``,
``max_concurrent_trials`` and ``trial_timeout`` are described there too).

The tuner is a stand-in: a seeded random search (grid sampling: every combination of the
``choice`` values, in order) over the request's search space, whatever the sampling
algorithm asked for. Which values a real sampler would pick is not the point; how they reach
a trial (the substituted text) and how the sweep reads a trial's objective (its last logged
value of the primary metric) is. Early termination policies are not applied.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from mlx.backends.azure.command import Ran, run_command, state_of
from mlx.backends.azure.tracking import Tracking
from mlx.runner.host import Host, Outcome, TrialOutcome


def run_sweep(request: dict[str, Any], host: Host) -> Outcome:
    sweep = str(request["name"])
    limits = request.get("limits") or {}
    total = int(limits.get("max_total_trials") or 1)
    parallel = max(1, int(limits.get("max_concurrent_trials") or 1))
    timeout = limits.get("trial_timeout")
    objective = request.get("objective") or {}
    metric = str(objective.get("primary_metric") or "")
    chosen = samples(request.get("search_space") or {}, request.get("sampling_algorithm"), total)
    trial_job = {
        **(request.get("trial") or {}),
        "inputs": request.get("inputs") or {},
        "outputs": request.get("outputs") or {},
    }
    host.event("running", {"name": sweep, "status": "Running"})
    trials: list[Optional[TrialOutcome]] = [None] * len(chosen)
    lock = threading.Lock()

    with Tracking() as tracking:

        def one(index: int) -> None:
            if host.cancelled.is_set():
                return
            name, values = f"{sweep}_{index}", chosen[index]
            host.event("trial-started", {"id": name, "parent": sweep, "params": values})
            ran = run_command(
                trial_job,
                host,
                tracking,
                name,
                values=values,
                trial=name,
                timeout=float(timeout) if timeout else None,
            )
            value = tracking.last(name, metric)
            outcome = _trial(name, values, ran, value)
            host.event("trial-ended", {**_details(outcome), "status": ran.status})
            with lock:
                trials[index] = outcome

        with ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(one, range(len(chosen))))
    done = [t for t in trials if t is not None]
    return _finish(host, sweep, done, metric, objective.get("goal") or "minimize")


def _trial(name: str, values: dict[str, Any], ran: Ran, value: Optional[float]) -> TrialOutcome:
    model = ran.outputs.get("model", "")
    artifacts = model[: -len("model/")] if model.endswith("/model/") else None
    state = state_of(ran.status)
    return TrialOutcome(name, values, state, value, ran.error, artifacts)


def _details(trial: TrialOutcome) -> dict[str, Any]:
    return {
        "id": trial.id,
        "params": trial.params,
        "state": trial.state,
        "objective": trial.objective,
        "reason": trial.reason,
        "artifacts_uri": trial.artifacts_uri,
    }


def _finish(host: Host, sweep: str, trials: list[TrialOutcome], metric: str, goal: str) -> Outcome:
    """Canceled when stopped; Completed when a trial succeeded; else Failed."""
    scored = [t for t in trials if t.state == "succeeded" and t.objective is not None]
    metrics = {}
    if scored:
        pick = min if goal == "minimize" else max
        metrics[metric] = pick(t.objective for t in scored if t.objective is not None)
    if host.cancelled.is_set():
        status, reason = "Canceled", None
    elif any(t.state == "succeeded" for t in trials):
        status, reason = "Completed", None
    else:
        status, reason = "Failed", "every trial failed"
    host.event("ended", {"name": sweep, "status": status, "error": reason})
    return Outcome(state_of(status), reason, [], metrics, trials)


def samples(space: dict[str, Any], algorithm: Any, total: int) -> list[dict[str, Any]]:
    """``total`` (at most) trials' values by search-space key."""
    kind = algorithm.get("type") if isinstance(algorithm, dict) else algorithm
    seed = algorithm.get("seed") if isinstance(algorithm, dict) else None
    if str(kind).lower() == "grid":
        keys = list(space)
        grid = itertools.product(*(list(space[key].get("values") or []) for key in keys))
        return [dict(zip(keys, values)) for values in itertools.islice(grid, total)]
    rng = random.Random(seed if seed is not None else 0)
    return [{key: sample(rng, spec) for key, spec in space.items()} for _ in range(total)]


def sample(rng: random.Random, spec: dict[str, Any]) -> Any:
    """One value of a search-space distribution, by its documented rule (``how-to-tune-
    hyperparameters``, Define the search space): ``q`` rounds to a multiple of ``q`` (kept a
    float, as Azure passes ``3.0``); log distributions take ``exp`` of the sampled value."""
    kind = spec.get("type")
    if kind == "choice":
        return rng.choice(list(spec.get("values") or []))
    if kind == "randint":
        return rng.randrange(int(spec["upper"]))
    if kind in ("normal", "lognormal", "qnormal", "qlognormal"):
        value = rng.gauss(float(spec["mu"]), float(spec["sigma"]))
    else:
        value = rng.uniform(float(spec["min_value"]), float(spec["max_value"]))
    if kind in ("loguniform", "qloguniform", "lognormal", "qlognormal"):
        value = math.exp(value)
    if kind and kind.startswith("q"):
        q = float(spec.get("q") or 1)
        value = float(round(value / q) * q)
    return value
