"""The tuning request: a ``HyperparameterTuningJob`` in REST JSON.

The spec's search space (validated for every provider by ``mlx.spec.Tune``) maps onto
``studySpec``: float -> ``doubleValueSpec``, int -> ``integerValueSpec``, choice ->
``categoricalValueSpec`` (values as text), discrete -> ``discreteValueSpec``, with
``UNIT_LOG_SCALE``/``UNIT_LINEAR_SCALE``. The trials' ``args`` hold the command, the
literal args and the static hyperparameters rendered (those not tuned), so the console
shows what every trial receives. Vertex appends each trial's values as
``--<parameter_id>=<value>``; the bootstrap folds them back into the hyperparameters
(``in_job.trial_command``), and turns the objective it parses from stdout into the
hypertune metrics file Vertex reads.
"""

from __future__ import annotations

from typing import Any

from mlx.backends.vertex.layout import Layout
from mlx.backends.vertex.render import (
    VertexPlan,
    code_uploads,
    container_parts,
    job_spec,
    labels,
    runtime_config,
)
from mlx.backends.vertex.settings import target_for
from mlx.cloud.plan import Plan
from mlx.errors import SpecError
from mlx.runtime.argv import format_scalar
from mlx.spec import JobSpec, Parameter, Tune

# Vertex's default algorithm (ALGORITHM_UNSPECIFIED) is its Bayesian optimisation; it has
# no Hyperband: that runs as Bayesian search with median early stopping.
_ALGORITHMS = {
    "bayesian": None,
    "random": "RANDOM_SEARCH",
    "grid": "GRID_SEARCH",
    "hyperband": None,
}
_SCALES = {"linear": "UNIT_LINEAR_SCALE", "log": "UNIT_LOG_SCALE"}


def tuning_plan(spec: JobSpec, job_id: str, secrets: dict[str, str]) -> VertexPlan:
    """The ``HyperparameterTuningJob`` for ``spec``; trials run ``trialJobSpec``."""
    from mlx.tuning.space import grid_size

    tune = spec.tune
    assert tune is not None
    target = target_for(spec)
    layout = Layout(target.bucket, job_id)
    parts = container_parts(spec, layout, secrets)
    runtime = runtime_config(spec, job_id, layout, parts)
    runtime.update(
        report="vertex",
        objective=tune.objective.metric,
        search_space=space(tune),
        # ${{name}} in a trial: Vertex numbers trials "1", "2", ... and tells each its own
        # in CLOUD_ML_TRIAL_ID (read by cloudml-hypertune: hypertune/hypertune.py).
        trial_number_from=["CLOUD_ML_TRIAL_ID", r"^(\d+)$"],
        hyperparameters_in_argv=True,  # the static ones are in the trial's args already
    )
    warnings = parts.warnings
    if tune.algorithm == "hyperband":
        warnings += ("Vertex AI has no Hyperband: it runs Bayesian search with early stopping",)
    tuning_job = {
        "displayName": job_id,
        "labels": labels(spec, job_id),
        "studySpec": study_spec(tune),
        "maxTrialCount": min(tune.max_trials, grid_size(tune) or tune.max_trials),
        "parallelTrialCount": tune.parallel_trials,
        "trialJobSpec": job_spec(spec, target, layout, parts, args=trial_args(spec)),
    }
    request = {"parent": target.parent, "hyperparameterTuningJob": tuning_job}
    uploads = parts.uploads + code_uploads(spec, layout)
    return Plan(request, runtime, target, layout, uploads, warnings)


def trial_args(spec: JobSpec) -> list[str]:
    """Command, literal args and the static hyperparameters that are not tuned, rendered
    (``in_job.static_tail`` finds the same arguments again inside the job)."""
    tune = spec.tune
    tuned = set(tune.parameters) if tune else set()
    return spec.argv({k: v for k, v in spec.hyperparameters.items() if k not in tuned})


def study_spec(tune: Tune) -> dict[str, Any]:
    metric = tune.objective.metric
    if any(c.isspace() for c in metric):
        # StudySpec.MetricSpec.metric_id: "Must not contain whitespaces"
        # (google/cloud/aiplatform_v1/types/study.py).
        raise SpecError(
            f"`tune.objective.metric` {metric!r}: Vertex AI's metric ids cannot contain spaces",
            hint="Name the metric without spaces (e.g. average_test_loss); its `regex` "
            "can still match the script's own words.",
        )
    study: dict[str, Any] = {
        "metrics": [{"metricId": tune.objective.metric, "goal": tune.objective.goal.upper()}],
        "parameters": [parameter_spec(name, p) for name, p in tune.parameters.items()],
        # The objective is the last value the trial reported, as on local.
        "measurementSelectionType": "LAST_MEASUREMENT",
    }
    algorithm = _ALGORITHMS[tune.algorithm]
    if algorithm:
        study["algorithm"] = algorithm
    if tune.early_stopping:
        # Median stopping over steps (not elapsed time), like the local tuner's pruner.
        study["medianAutomatedStoppingSpec"] = {}
    return study


def parameter_spec(name: str, param: Parameter) -> dict[str, Any]:
    spec: dict[str, Any] = {"parameterId": name}
    if param.type == "float":
        spec["doubleValueSpec"] = {"minValue": param.min, "maxValue": param.max}
    elif param.type == "int":
        # int64 travels as text in REST JSON.
        low, high = int(param.min or 0), int(param.max or 0)
        spec["integerValueSpec"] = {"minValue": str(low), "maxValue": str(high)}
    elif param.type == "discrete":
        spec["discreteValueSpec"] = {"values": [float(v) for v in param.values or []]}
    else:
        spec["categoricalValueSpec"] = {"values": [format_scalar(v) for v in param.values or []]}
    if param.type in ("float", "int", "discrete"):
        spec["scaleType"] = _SCALES[param.scale]
    return spec


def space(tune: Tune) -> dict[str, Any]:
    """The search space as the bootstrap needs it to type the trial's values."""
    return {
        name: {"type": p.type, **({"values": p.values} if p.values is not None else {})}
        for name, p in tune.parameters.items()
    }
