"""The tuning request (``create_hyper_parameter_tuning_job`` kwargs) and trials read back.

A tuning job's training definition has no ContainerEntrypoint or ContainerArguments (the
API lacks them), so trials start through the SageMaker training toolkit found in AWS's
framework images: static hyperparameters ``sagemaker_program`` and
``sagemaker_submit_directory`` name a one-file entry script that runs the bootstrap, which
reads the trial's values back from hyperparameters.json. Static values are JSON-encoded
(``argv.encode_for_sagemaker``) and categorical values too, so lists, flags and strings
reach the script exactly as the local provider gives them.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from mlx.backends.sagemaker import layout as paths
from mlx.backends.sagemaker import limits
from mlx.backends.sagemaker.render import (
    INPUT_MODE,
    SageMakerPlan,
    definition,
    layout_for,
    metric_definitions,
    runtime_config,
    tags,
    training_image,
)
from mlx.backends.sagemaker.settings import settings_of
from mlx.backends.sagemaker.staging import TOOLKIT_ENTRY, toolkit_archive
from mlx.backends.sagemaker.states import training_state
from mlx.cloud.plan import Plan
from mlx.model import TrialStatus
from mlx.runtime.argv import decode_from_sagemaker, encode_for_sagemaker, format_scalar
from mlx.spec import JobSpec, Parameter, Tune

STRATEGIES = {"bayesian": "Bayesian", "random": "Random", "grid": "Grid", "hyperband": "Hyperband"}
_SCALING = {"linear": "Linear", "log": "Logarithmic"}
# SageMaker names trials <tuning-job>-<NNN>-<8 hex digits>; NNN is the trial's number.
_TRIAL_NAME = re.compile(r"-(\d{3})-[0-9a-f]{8}$")


def tuning_name(job_id: str) -> str:
    """A valid tuning job name (at most 32 characters) derived from the mlx job id."""
    if len(job_id) <= limits.TUNING_NAME_MAX:
        return job_id
    digest = hashlib.sha256(job_id.encode()).hexdigest()[:6]
    return f"{job_id[: limits.TUNING_NAME_MAX - 7].rstrip('-')}-{digest}"


def tuning_plan(spec: JobSpec, job_id: str, secrets: dict[str, str]) -> SageMakerPlan:
    tune = spec.tune
    assert tune is not None
    name = limits.check_job_name(
        tuning_name(job_id), limits.TUNING_NAME_MAX, "HyperParameterTuningJobName"
    )
    where = layout_for(spec, job_id)
    parts = definition(spec, where, secrets)
    ranges = parameter_ranges(tune)
    limits.check_ranges(ranges)
    request = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": tuning_config(tune, ranges),
        "TrainingJobDefinition": {
            "StaticHyperParameters": static_hyperparameters(spec, where.staging_uri),
            "AlgorithmSpecification": {
                "TrainingImage": training_image(spec),
                "TrainingInputMode": INPUT_MODE,
                "MetricDefinitions": metric_definitions(spec),
            },
            "InputDataConfig": parts.channels,
            "ResourceConfig": parts.resources,
            "StoppingCondition": parts.stopping,
            **parts.common,
        },
        "Tags": tags(spec, job_id),
    }
    runtime = runtime_config(spec, job_id, parts)
    runtime.update(
        command=[*spec.command_argv(), *spec.args],
        hyperparameters_file=paths.HYPERPARAMETERS_FILE,
        hyperparameters_encoded=True,
        float_hyperparameters=[k for k, p in tune.parameters.items() if p.type == "float"],
        # Trials share the tuning job's CheckpointConfig: each keeps its own subdirectory
        # (SageMaker sets TRAINING_JOB_NAME in the container).
        checkpoint_subdir_env="TRAINING_JOB_NAME",
    )
    # Trials start through the toolkit, which unpacks this archive into their working dir.
    toolkit = {
        where.staging_uri + paths.TOOLKIT_ARCHIVE: toolkit_archive(
            paths.BOOTSTRAP_PATH, paths.RUNTIME_PATH
        )
    }
    region = settings_of(spec).region
    return Plan(request, runtime, region, where, parts.uploads, parts.warnings, toolkit)


def tuning_config(tune: Tune, ranges: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    limits_: dict[str, Any] = {"MaxParallelTrainingJobs": tune.parallel_trials}
    if tune.algorithm != "grid":  # a grid runs every combination: SageMaker counts them
        limits_["MaxNumberOfTrainingJobs"] = tune.max_trials
    config: dict[str, Any] = {
        "Strategy": STRATEGIES[tune.algorithm],
        "HyperParameterTuningJobObjective": {
            "Type": tune.objective.goal.capitalize(),
            "MetricName": tune.objective.metric,
        },
        "ResourceLimits": limits_,
        "ParameterRanges": ranges,
        # Hyperband stops trials itself and requires this Off.
        "TrainingJobEarlyStoppingType": (
            "Auto" if tune.early_stopping and tune.algorithm != "hyperband" else "Off"
        ),
    }
    if tune.seed is not None:
        config["RandomSeed"] = tune.seed
    return config


def parameter_ranges(tune: Tune) -> dict[str, list[dict[str, Any]]]:
    ranges: dict[str, list[dict[str, Any]]] = {}
    for name, param in tune.parameters.items():
        kind, item = _range(name, param, grid=tune.algorithm == "grid")
        ranges.setdefault(kind, []).append(item)
    return ranges


def _range(name: str, param: Parameter, grid: bool) -> tuple[str, dict[str, Any]]:
    if param.type in ("float", "int") and not grid:
        kind = "ContinuousParameterRanges" if param.type == "float" else "IntegerParameterRanges"
        low, high = (param.min, param.max) if param.type == "float" else _ints(param)
        return kind, {
            "Name": name,
            "MinValue": format_scalar(low),
            "MaxValue": format_scalar(high),
            "ScalingType": _SCALING[param.scale],
        }
    from mlx.tuning.space import grid_values

    # JSON-encoded, so "true" stays a string and 32 a number when the bootstrap decodes.
    values = [json.dumps(v) for v in grid_values(param)]
    return "CategoricalParameterRanges", {"Name": name, "Values": values}


def _ints(param: Parameter) -> tuple[int, int]:
    return int(param.min or 0), int(param.max or 0)


def static_hyperparameters(spec: JobSpec, staging_uri: str) -> dict[str, str]:
    tuned = set(spec.tune.parameters) if spec.tune else set()
    static = {k: v for k, v in spec.hyperparameters.items() if k not in tuned}
    encoded = encode_for_sagemaker(static)
    limits.check_mapping(encoded, "hyperparameters", limits.HYPERPARAMETERS, "entries")
    return {
        **encoded,
        # The training toolkit's entry point (JSON strings, as the sagemaker SDK sends them).
        "sagemaker_program": json.dumps(TOOLKIT_ENTRY),
        "sagemaker_submit_directory": json.dumps(staging_uri + paths.TOOLKIT_ARCHIVE),
    }


def trial_status(summary: dict[str, Any], index: int) -> TrialStatus:
    """One row of ListTrainingJobsForHyperParameterTuningJob as a ``TrialStatus``."""
    name = summary["TrainingJobName"]
    match = _TRIAL_NAME.search(name)
    objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
    status = summary["TrainingJobStatus"]
    return TrialStatus(
        number=int(match.group(1)) if match else index + 1,
        native_id=name,
        state=training_state(status),
        params=decode_from_sagemaker(summary.get("TunedHyperParameters") or {}),
        objective=None if objective is None else float(objective),
        message=summary.get("FailureReason"),
        # Early stopping ends a trial Stopped with its objective so far.
        pruned=status == "Stopped" and objective is not None,
    )
