"""SageMaker's tuner, stood in for: ``CreateHyperParameterTuningJob`` run as trials.

The real tuner's search (Bayesian, Hyperband...) is not the point and is not imitated: a
seeded random search over ``ParameterRanges`` (every combination for ``Grid``) picks the
values. What is SageMaker's, with its sources:

- each trial is a training job built from ``TrainingJobDefinition``, named
  ``<tuning-job>-<NNN>-<8 hex digits>``, whose HyperParameters are the static ones, the
  trial's values as strings, and ``_tuning_objective_metric`` (the objective's name: the
  training toolkit knows it as ``params.TUNING_METRIC_PARAM``, github.com/aws/
  sagemaker-training-toolkit src/sagemaker_training/params.py) — "How Hyperparameter Tuning
  Works", https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html;
- the tuner reads a trial's objective from its log with the objective metric's
  MetricDefinitions regex ("Define metrics", https://docs.aws.amazon.com/sagemaker/latest/dg/
  automatic-model-tuning-define-metrics-variables.html); the last value is the final one;
- at most ``ResourceLimits.MaxParallelTrainingJobs`` trials run at once, and
  ``MaxNumberOfTrainingJobs`` in all (https://docs.aws.amazon.com/sagemaker/latest/
  APIReference/API_ResourceLimits.html).
"""

from __future__ import annotations

import itertools
import math
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Optional

from mlx.runner.host import Host, Outcome, TrialOutcome
from mlx.runtime.argv import decode_from_sagemaker

if TYPE_CHECKING:
    from mlx.backends.sagemaker.runner import SageMakerRunner

OBJECTIVE_KEY = "_tuning_objective_metric"
_DEFINITION_KEYS = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "CheckpointConfig",
    "Environment",
    "VpcConfig",
    "EnableManagedSpotTraining",
)


def run_tuning(runner: SageMakerRunner, request: dict[str, Any], host: Host) -> Outcome:
    name = request["HyperParameterTuningJobName"]
    config = request["HyperParameterTuningJobConfig"]
    definition = request["TrainingJobDefinition"]
    objective = config["HyperParameterTuningJobObjective"]
    limits = config["ResourceLimits"]
    picks = sample(config["ParameterRanges"], config.get("Strategy", "Bayesian"), limits, config)
    lock = threading.Lock()
    trials: list[Optional[TrialOutcome]] = [None] * len(picks)

    def trial(number: int) -> None:
        if host.cancelled.is_set():
            return
        tuned = picks[number]
        trial_name = f"{name}-{number + 1:03d}-{random.getrandbits(32):08x}"
        job = trial_request(definition, trial_name, tuned, objective["MetricName"])
        host.event(
            "trial-started",
            # SageMaker's words for a test server, mlx's (id, params, state) for a rehearsal.
            {
                "tuning_job": name,
                "name": trial_name,
                "tuned": tuned,
                "id": trial_name,
                "params": decode_from_sagemaker(tuned),
                "state": "running",
            },
        )
        outcome = runner.train(job, host, trial=trial_name)
        value = outcome.metrics.get(objective["MetricName"])
        params = decode_from_sagemaker(tuned)  # mlx's values ("0.5" -> 0.5)
        done = TrialOutcome(
            trial_name, params, outcome.state, value, outcome.reason, outcome.artifacts_uri
        )
        with lock:
            trials[number] = done
        host.event(
            "trial-ended",
            {
                "tuning_job": name,
                "name": trial_name,
                "status": {"succeeded": "Completed", "failed": "Failed"}.get(
                    outcome.state, "Stopped"
                ),
                "objective": value,
                "reason": outcome.reason,
                "metrics": outcome.metrics,
                "id": trial_name,
                "state": outcome.state,
                "artifacts_uri": outcome.artifacts_uri,
            },
        )

    parallel = max(1, int(limits.get("MaxParallelTrainingJobs") or 1))
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(trial, range(len(picks))))
    ran = [t for t in trials if t is not None]
    outcome = _outcome(ran, host.cancelled.is_set())
    outcome.artifacts_uri = definition["OutputDataConfig"]["S3OutputPath"]
    host.event(
        "ended",
        {
            "name": name,
            "status": {"succeeded": "Completed", "failed": "Failed"}.get(outcome.state, "Stopped"),
            "reason": outcome.reason,
        },
    )
    return outcome


def trial_request(
    definition: dict[str, Any], name: str, tuned: dict[str, str], metric: str
) -> dict[str, Any]:
    """The training job the tuner launches for one trial."""
    job = {key: definition[key] for key in _DEFINITION_KEYS if key in definition}
    static = definition.get("StaticHyperParameters") or {}
    job["HyperParameters"] = {**static, **tuned, OBJECTIVE_KEY: metric}
    job["TrainingJobName"] = name
    return job


def sample(
    ranges: dict[str, list[dict[str, Any]]],
    strategy: str,
    limits: dict[str, Any],
    config: dict[str, Any],
) -> list[dict[str, str]]:
    """Each trial's values, as the strings SageMaker puts in the trial's hyperparameters."""
    if strategy == "Grid":  # every combination of the categorical values
        names = [r["Name"] for r in ranges.get("CategoricalParameterRanges", [])]
        values = [r["Values"] for r in ranges.get("CategoricalParameterRanges", [])]
        return [dict(zip(names, combo)) for combo in itertools.product(*values)]
    rng = random.Random(config.get("RandomSeed"))
    count = int(limits.get("MaxNumberOfTrainingJobs") or 1)
    return [_pick(ranges, rng) for _ in range(count)]


def _pick(ranges: dict[str, list[dict[str, Any]]], rng: random.Random) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in ranges.get("ContinuousParameterRanges", []):
        low, high = float(item["MinValue"]), float(item["MaxValue"])
        values[item["Name"]] = repr(_draw(rng, low, high, item.get("ScalingType")))
    for item in ranges.get("IntegerParameterRanges", []):
        low, high = int(item["MinValue"]), int(item["MaxValue"])
        drawn = _draw(rng, low, high + 1 - 1e-9, item.get("ScalingType"))
        values[item["Name"]] = str(min(high, max(low, math.floor(drawn))))
    for item in ranges.get("CategoricalParameterRanges", []):
        values[item["Name"]] = rng.choice(item["Values"])
    return values


def _draw(rng: random.Random, low: float, high: float, scaling: Optional[str]) -> float:
    if scaling in ("Logarithmic", "ReverseLogarithmic") and low > 0:
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)


def _outcome(trials: list[TrialOutcome], cancelled: bool) -> Outcome:
    if cancelled:
        return Outcome("cancelled", trials=trials)
    if any(t.state == "succeeded" and t.objective is not None for t in trials):
        return Outcome("succeeded", trials=trials)
    # The runner's own words: no trial reported the objective.
    return Outcome("failed", "No training job reported the objective metric", trials=trials)
