"""The tuning request (``create_hyper_parameter_tuning_job`` kwargs) and trials read back.

A tuning job's training definition has no ContainerEntrypoint or ContainerArguments (the
API lacks them), so trials start through the SageMaker training toolkit found in AWS's
framework images: static hyperparameters ``sagemaker_program`` and
``sagemaker_submit_directory`` name a one-file entry script that runs the bootstrap, which
reads the trial's values back from hyperparameters.json. Static values are JSON-encoded
(``argv.encode_for_sagemaker``) and categorical values too, so lists, flags and strings
reach the script exactly as the local provider gives them. The bootstrap renders them in
the spec's order (``hyperparameter_order`` in the runtime config): hyperparameters.json is a
JSON object, whose key order SageMaker does not promise.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Optional

from mlx.backends.sagemaker import images, limits
from mlx.backends.sagemaker import layout as paths
from mlx.backends.sagemaker.render import (
    INPUT_MODE,
    SageMakerPlan,
    definition,
    layout_for,
    metric_definitions,
    runtime_config,
    tags,
)
from mlx.backends.sagemaker.settings import settings_of
from mlx.backends.sagemaker.staging import toolkit_entry
from mlx.backends.sagemaker.states import epoch, training_state
from mlx.cloud.plan import Plan
from mlx.errors import SpecError
from mlx.model import TrialStatus
from mlx.runtime.argv import decode_from_sagemaker, encode_for_sagemaker, format_scalar
from mlx.spec import JobSpec, Parameter, Tune

STRATEGIES = {"bayesian": "Bayesian", "random": "Random", "grid": "Grid", "hyperband": "Hyperband"}
_SCALING = {"linear": "Linear", "log": "Logarithmic"}
# The training toolkit's own static hyperparameters (sagemaker_training/params.py in
# aws/sagemaker-training-toolkit): the entry script (an absolute path: see staging.py) and
# the job's region (``sagemaker_region`` becomes SAGEMAKER_REGION in the container). They
# count toward the 100. The same program goes in the Environment as SAGEMAKER_PROGRAM,
# which the toolkit reads first.
TOOLKIT_PROGRAM, TOOLKIT_REGION = ("sagemaker_program", "sagemaker_region")
TOOLKIT_PROGRAM_ENV = "SAGEMAKER_PROGRAM"
# Static hyperparameters SageMaker's Hyperband reads MaxResource from when none is given
# (HyperbandStrategyConfig.MaxResource in botocore's service model).
EPOCHS_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
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
    image = images.training_image(spec, tuning=True)
    config = tuning_config(spec, tune)
    quotas = tuning_quotas(tune)
    parts = definition(spec, where, secrets, tuning=True)
    parts.common["Environment"][TOOLKIT_PROGRAM_ENV] = paths.TOOLKIT_ENTRY_PATH
    # One CheckpointConfig serves every trial, and SageMaker restores all of its S3Uri into
    # each new trial (https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints.html):
    # trial k would start with trials 1..k-1's checkpoints. A trial's checkpoints stay on
    # its own instance instead.
    del parts.common["CheckpointConfig"]
    region = settings_of(spec).region
    request = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "StaticHyperParameters": static_hyperparameters(spec, region),
            "AlgorithmSpecification": {
                "TrainingImage": image,
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
        # ${{name}} in a trial: SageMaker sets TRAINING_JOB_NAME in the container
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html),
        # the trial's name, <tuning job>-<NNN>-<8 hex digits>.
        trial_number_from=["TRAINING_JOB_NAME", _TRIAL_NAME.pattern],
        hyperparameters_encoded=True,
        float_hyperparameters=[k for k, p in tune.parameters.items() if p.type == "float"],
        # The local tuner's order: the spec's hyperparameters, then the tuned-only ones.
        hyperparameter_order=list({**spec.hyperparameters, **tune.parameters}),
    )
    # Trials start through the toolkit, which runs this file of the `mlx` channel.
    toolkit = {
        where.staging_uri + paths.TOOLKIT_ENTRY_NAME: toolkit_entry(
            paths.BOOTSTRAP_PATH, paths.RUNTIME_PATH
        )
    }
    warnings = (*parts.warnings, *quotas)
    return Plan(request, runtime, region, where, parts.uploads, warnings, toolkit)


def with_region(request: dict[str, Any], region: str) -> None:
    """Name the region for the training toolkit once it is known (the session's, when the
    spec names none); its slot was counted when the request was rendered."""
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    static.setdefault(TOOLKIT_REGION, json.dumps(region))


def tuning_quotas(tune: Tune) -> list[str]:
    """The quotas of a tuning job (``limits.check_tuning_quotas``) against what ``tune``
    asks; a grid runs every combination of its values."""
    from mlx.tuning.space import grid_size

    grid = grid_size(tune)
    if grid is not None:
        asked = f"`tune.parameters` make a grid of {grid} combinations"
        return limits.check_tuning_quotas(tune.algorithm, tune.parallel_trials, grid, asked)
    asked = f"`tune.max_trials` is {tune.max_trials}"
    return limits.check_tuning_quotas(tune.algorithm, tune.parallel_trials, tune.max_trials, asked)


def tuning_config(spec: JobSpec, tune: Tune) -> dict[str, Any]:
    ranges = parameter_ranges(tune)
    limits.check_ranges(ranges)
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
        # Hyperband stops trials itself: "TrainingJobEarlyStoppingType must be OFF to use
        # Hyperband" (HyperParameterTuningJobConfig in botocore's service model).
        "TrainingJobEarlyStoppingType": (
            "Auto" if tune.early_stopping and tune.algorithm != "hyperband" else "Off"
        ),
    }
    if tune.algorithm == "hyperband":
        config["StrategyConfig"] = {"HyperbandStrategyConfig": hyperband(spec, tune)}
    if tune.seed is not None:
        config["RandomSeed"] = tune.seed
    return config


def hyperband(spec: JobSpec, tune: Tune) -> dict[str, int]:
    """MinResource and MaxResource: the most objective values (epochs) a trial reports.

    Without MaxResource SageMaker infers it from a static hyperparameter named like
    ``epochs``, "else a validation error" (HyperbandStrategyConfig.MaxResource); mlx sends
    it explicitly, from ``tune.max_resource`` or that hyperparameter, and refuses before
    any upload when there is neither.
    """
    most = tune.max_resource
    if most is None:
        most = _static_epochs(spec, tune)
    if most is None:
        raise SpecError(
            "`tune.algorithm: hyperband` on SageMaker needs `tune.max_resource`: the most "
            "epochs (objective values) a trial reports",
            hint="e.g. tune: {max_resource: 30}, or a fixed hyperparameter `epochs: 30` that "
            "is not tuned.",
        )
    if most > limits.MAX_RESOURCE:
        raise SpecError(
            f"`tune.max_resource` is {most}; SageMaker's Hyperband allows at most "
            f"{limits.MAX_RESOURCE}"
        )
    # MinResource 1: a trial may be stopped after its first value, as Optuna's Hyperband.
    return {"MinResource": 1, "MaxResource": most}


def _static_epochs(spec: JobSpec, tune: Tune) -> Optional[int]:
    for key in EPOCHS_KEYS:
        value = spec.hyperparameters.get(key)
        if key in tune.parameters or isinstance(value, bool) or not isinstance(value, int):
            continue
        if value >= 1:
            return value
    return None


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


def static_hyperparameters(spec: JobSpec, region: Optional[str]) -> dict[str, str]:
    tuned = set(spec.tune.parameters) if spec.tune else set()
    static = {k: v for k, v in spec.hyperparameters.items() if k not in tuned}
    encoded = encode_for_sagemaker(static)
    own = (TOOLKIT_PROGRAM, TOOLKIT_REGION)
    limits.check_mapping(encoded, "hyperparameters", limits.HYPERPARAMETERS, "entries", own)
    # The training toolkit's entries (JSON strings, as the sagemaker SDK sends them).
    toolkit = {TOOLKIT_PROGRAM: json.dumps(paths.TOOLKIT_ENTRY_PATH)}
    if region:
        toolkit[TOOLKIT_REGION] = json.dumps(region)
    return {**encoded, **toolkit}


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
        started_at=epoch(summary.get("TrainingStartTime")),
        ended_at=epoch(summary.get("TrainingEndTime")),
    )
