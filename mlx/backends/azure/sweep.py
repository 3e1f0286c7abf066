"""The sweep job around the command job: search space, sampling, objective, limits.

Azure ML's search-space rules, and what mlx does with each spec parameter:

- ``float``: ``uniform``; log scale: ``loguniform``, whose bounds are natural-log exponents
  (``[1e-5, 1e-2]`` becomes ``[ln 1e-5, ln 1e-2]``).
- ``int``: ``randint`` (upper bound exclusive) when the range starts at 0, else ``quniform``
  over ``[min - 0.5, max + 0.5]`` with ``q: 1`` so every integer is equally likely; log
  scale: ``qloguniform`` over the exponents.
- ``choice``/``discrete``: ``choice``; values that are not plain words or numbers are
  sampled by position (the bootstrap maps the index back), so no value is ever shell text.
- ``grid`` sampling takes ``choice`` only: int ranges become the list of their values.
- ``bayesian`` sampling takes ``choice``, ``uniform`` and ``quniform`` only and no early
  termination: a log-scale parameter is sampled as ``uniform`` over its exponents and the
  bootstrap takes ``exp`` of the value.

The runtime config's ``search_space`` records each parameter's key and encoding; the
bootstrap (``in_job.sweep_value``) and ``trial_params`` decode values with it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlx.backends.azure.in_job import sweep_value
from mlx.backends.azure.layout import SCHEMAS, azure_keys
from mlx.backends.azure.render import (
    check_metric_names,
    command_line,
    data,
    distribution,
    environment,
    identity,
    runtime_config,
)
from mlx.backends.azure.script import PLAIN, ScriptArgs, script_args
from mlx.backends.azure.settings import settings_of
from mlx.errors import SpecError
from mlx.runtime.argv import format_scalar
from mlx.spec import JobSpec, Parameter, Tune
from mlx.tuning.space import grid_size, grid_values

_SAMPLING = {"bayesian": "bayesian", "random": "random", "grid": "grid", "hyperband": "random"}
_POLICIES: dict[str, dict[str, Any]] = {
    "bandit": {"type": "bandit", "slack_factor": 0.1},
    "median": {"type": "median_stopping"},
    "truncation": {"type": "truncation_selection", "truncation_percentage": 20},
}


def sweep_job(
    spec: JobSpec, job_id: str, *, compute: str, code: str, secrets: dict[str, str]
) -> dict[str, Any]:
    """The sweep job for ``spec`` (with ``tune``) named ``job_id``."""
    tune = spec.tune
    assert tune is not None
    check_metric_names(spec)
    space = runtime_space(tune)
    script = script_args(spec, {name: entry["key"] for name, entry in space.items()})
    doc: dict[str, Any] = {
        "$schema": SCHEMAS["sweep"],
        "type": "sweep",
        **identity(spec, job_id),
        "compute": f"azureml:{compute}",
        "trial": trial(spec, job_id, code, secrets, script),
        # Each trial writes under its own name. `${{name}}` is a server expression, "the job
        # name. For pipelines, it's the step job name, not the pipeline job name"
        # (https://learn.microsoft.com/azure/machine-learning/concept-expressions, Server
        # expressions), "resolved at job execution time"
        # (https://learn.microsoft.com/azure/machine-learning/how-to-manage-inputs-outputs-pipeline,
        # Customize output paths): the name of the job that runs the command, which for a
        # sweep is each trial, a child job of its own name (`<sweep>_<n>`, listed by
        # `jobs.list(parent_job_name=...)`). azure-ai-ml builds on the same: `jobs.download`
        # of a sweep's named output downloads the best child run's
        # (azure/ai/ml/operations/_job_operations.py, `download`, 1.35.2). The docs name no
        # sweep case explicitly; mlx reads a trial's artifacts under `mlx/<trial name>/`.
        **data(spec, azure_keys(list(spec.inputs)), owner="${{name}}", literals=script.literals),
        "search_space": search_space(tune),
        "sampling_algorithm": sampling(tune),
        "objective": {"goal": tune.objective.goal, "primary_metric": tune.objective.metric},
        "limits": limits(spec, tune),
    }
    policy = early_termination(spec, tune)
    if policy:
        doc["early_termination"] = policy
    return doc


def trial(
    spec: JobSpec, job_id: str, code: str, secrets: dict[str, str], script: ScriptArgs
) -> dict[str, Any]:
    """What each trial runs: the command job's parts, with ``--hp`` options for the values
    Azure substitutes and the search space in the runtime config to decode them. The
    script's words show the static values and, in their places, the searched ones; the
    bootstrap renders the words from ``hyperparameters_at`` on with the decoded values."""
    assert spec.tune is not None
    space = runtime_space(spec.tune)
    runtime = {**runtime_config(spec, job_id), "search_space": space}
    runtime.update(objective=spec.tune.objective.metric)
    # ${{name}} in a trial: its run, `<sweep>_<n>` (runs.trial_number), is MLFLOW_RUN_ID,
    # which Azure ML sets in every job (https://github.com/Azure/azure-sdk-for-python/issues/38813).
    runtime.update(trial_number_from=["MLFLOW_RUN_ID", "^" + re.escape(job_id) + r"_(\d+)$"])
    runtime.update(hyperparameters_at=script.hyperparameters_at)
    search_keys = {name: entry["key"] for name, entry in space.items()}
    return {
        "code": code,
        "command": command_line(
            azure_keys(list(spec.inputs)), script.words, search_keys, script.hidden
        ),
        "environment": {"image": spec.image},
        "environment_variables": environment(spec, secrets, runtime),
        "resources": {"instance_count": spec.resources.nodes},
        **distribution(spec),
    }


def search_space(tune: Tune) -> dict[str, dict[str, Any]]:
    """Azure's search space, by Azure key."""
    keys = azure_keys(list(tune.parameters))
    return {
        keys[name]: distribution_for(param, tune.algorithm)[0]
        for name, param in tune.parameters.items()
    }


def runtime_space(tune: Tune) -> dict[str, dict[str, Any]]:
    """Spec name -> ``{"key", "type", "encoding", "values", "min", "max"}``: how the
    bootstrap and ``trial_params`` decode the values Azure substitutes."""
    keys = azure_keys(list(tune.parameters))
    space = {}
    for name, param in tune.parameters.items():
        _, encoding, values = distribution_for(param, tune.algorithm)
        entry = {"key": keys[name], "type": param.type, "encoding": encoding}
        entry.update(values=values, min=param.min, max=param.max)
        space[name] = {k: v for k, v in entry.items() if v is not None}
    return space


def distribution_for(param: Parameter, algorithm: str) -> tuple[dict, Any, Any]:
    """(Azure's distribution, the encoding, the values a choice samples from)."""
    if param.type in ("choice", "discrete") or algorithm == "grid":
        values = grid_values(param)
        texts = [format_scalar(v) for v in values]
        plain = all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) and PLAIN.match(t)
            for v, t in zip(values, texts)
        ) and len(set(texts)) == len(texts)
        if plain:
            return {"type": "choice", "values": values}, None, values
        return {"type": "choice", "values": list(range(len(values)))}, "index", values
    low, high = float(param.min), float(param.max)  # type: ignore[arg-type]
    if param.scale == "log":
        low, high = math.log(low), math.log(high)
        if algorithm == "bayesian":
            return {"type": "uniform", "min_value": low, "max_value": high}, "exp", None
        kind = "qloguniform" if param.type == "int" else "loguniform"
        extra = {"q": 1} if param.type == "int" else {}
        return {"type": kind, "min_value": low, "max_value": high, **extra}, None, None
    if param.type == "float":
        return {"type": "uniform", "min_value": low, "max_value": high}, None, None
    if low == 0 and algorithm != "bayesian":
        return {"type": "randint", "upper": int(high) + 1}, None, None
    return {"type": "quniform", "min_value": low - 0.5, "max_value": high + 0.5, "q": 1}, None, None


def sampling(tune: Tune) -> Any:
    algorithm = _SAMPLING[tune.algorithm]
    if algorithm == "random" and tune.seed is not None:
        return {"type": "random", "seed": tune.seed}
    return algorithm


# "max_total_trials: Maximum number of trial jobs. Must be an integer between 1 and 1000.
# max_concurrent_trials: ... must be an integer between 1 and 100."
# (https://learn.microsoft.com/azure/machine-learning/how-to-tune-hyperparameters, Set limits)
MAX_TRIALS, MAX_CONCURRENT = 1000, 100


def limits(spec: JobSpec, tune: Tune) -> dict[str, Any]:
    total = min(tune.max_trials, grid_size(tune) or tune.max_trials)
    concurrent = min(tune.parallel_trials, total)
    for field, value, most in (
        ("max_trials", total, MAX_TRIALS),
        ("parallel_trials", concurrent, MAX_CONCURRENT),
    ):
        if value > most:
            raise SpecError(
                f"`tune.{field}`: an Azure ML sweep allows at most {most} (got {value})",
                hint=f"Set tune.{field} to {most} or less for Azure ML, or set `tune.engine: "
                "mlx` (each trial a command job, within your compute cluster's nodes and quotas).",
            )
    result: dict[str, Any] = {"max_total_trials": total, "max_concurrent_trials": concurrent}
    if spec.resources.max_runtime_seconds:
        result["trial_timeout"] = spec.resources.max_runtime_seconds
    return result


def early_termination(spec: JobSpec, tune: Tune) -> dict[str, Any] | None:
    """Hyperband -> Azure's bandit policy; ``early_stopping`` -> ``azure.early_termination``.
    Bayesian sampling cannot stop trials early on Azure (the service refuses a policy)."""
    if tune.algorithm == "bayesian" or not (tune.early_stopping or tune.algorithm == "hyperband"):
        return None
    name = "bandit" if tune.algorithm == "hyperband" else settings_of(spec).early_termination
    return {**_POLICIES[name], "evaluation_interval": 1, "delay_evaluation": 2}


def trial_params(space: dict[str, dict[str, Any]], chosen: dict[str, Any]) -> dict[str, Any]:
    """A trial's values as Azure reports them (by key) -> spec names and spec values."""
    params = {}
    for name, entry in space.items():
        if entry["key"] in chosen:
            params[name] = sweep_value(entry, str(chosen[entry["key"]]))
    return params
