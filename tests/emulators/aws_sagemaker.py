"""SageMaker job state for the AWS test server: the parts moto leaves out.

moto creates every training and tuning job ``Completed``, answers ``StopTrainingJob``,
``StopHyperParameterTuningJob`` and ``ListTrainingJobsForHyperParameterTuningJob`` with a
500, lets a second ``CreateTrainingJob`` overwrite the first, replaces the request's
``MetricDefinitions`` with its own, and pages ``ListTrainingJobs`` before filtering,
unsorted. ``SageMakerJobs`` fixes that on moto's own backend objects (the server runs in
the test process), so ``Describe*`` answered by moto shows the state a test drives.
"""

from __future__ import annotations

import copy
import functools
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow

TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
# The SecondaryStatus a status implies when the test names none.
_SECONDARY = {
    "InProgress": "Training",
    "Completed": "Completed",
    "Failed": "Failed",
    "Stopping": "Stopping",
    "Stopped": "Stopped",
}
# TrainingJobStatusCounters bucket of each trial status (Failed: NonRetryableError).
_TRIAL_COUNTERS = {
    "InProgress": "InProgress",
    "Stopping": "InProgress",
    "Completed": "Completed",
    "Stopped": "Stopped",
}


class ApiError(Exception):
    """An AWS JSON-protocol error answer: ``{"__type": code, "message": message}``."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass
class Trial:
    """What a tuning job knows about one of its training jobs beyond the job itself."""

    tuning_job: str
    tuned: dict[str, str]
    objective: Optional[float] = None


@dataclass
class SageMakerJobs:
    """Job-state driving on top of moto's SageMaker backend (one account, any region)."""

    new_training_status: Optional[str] = "InProgress"  # None: keep moto's born-Completed
    new_tuning_status: Optional[str] = "InProgress"
    # Describe calls that still show ``Stopping`` after a Stop* call before the job turns
    # ``Stopped`` by itself; None: it stays ``Stopping`` until the test moves it.
    stopping_describes: Optional[int] = 1
    # Managed spot training's saving on an ended spot job's billable time (0.7: billed
    # for 30% of its training time); on-demand jobs are billed their training time.
    spot_savings: float = 0.0
    trials: dict[str, Trial] = field(default_factory=dict)
    stopping: dict[tuple[str, str], int] = field(default_factory=dict)

    @staticmethod
    def backend(region: str = "us-east-1") -> Any:
        return get_backend("sagemaker")[DEFAULT_ACCOUNT_ID][region]

    # ---- requests: ``answer`` before moto (a dict replaces moto's answer), ``after`` once
    # ---- moto answered 2xx.

    def answer(self, action: str, body: dict[str, Any], region: str) -> Optional[dict[str, Any]]:
        handler: Optional[Callable[[dict[str, Any], Any], Optional[dict[str, Any]]]] = {
            "CreateTrainingJob": self._check_unique,
            "DescribeTrainingJob": self._describe_training_job,
            "StopTrainingJob": self._stop_training_job,
            "ListTrainingJobs": self._list_training_jobs,
            "DescribeHyperParameterTuningJob": self._describe_tuning_job,
            "StopHyperParameterTuningJob": self._stop_tuning_job,
            "ListTrainingJobsForHyperParameterTuningJob": self._list_trials,
        }.get(action)
        return handler(body, self.backend(region)) if handler else None

    def after(self, action: str, body: dict[str, Any], region: str) -> None:
        backend = self.backend(region)
        if action == "CreateTrainingJob":
            job = backend.training_jobs[body["TrainingJobName"]]
            # moto overwrites MetricDefinitions with a fake one; keep what was sent.
            job.algorithm_specification = copy.deepcopy(body["AlgorithmSpecification"])
            if self.new_training_status:
                self._start_training_job(job, self.new_training_status)
        elif action == "CreateHyperParameterTuningJob" and self.new_tuning_status:
            job = backend.hyper_parameter_tuning_jobs[body["HyperParameterTuningJobName"]]
            self._start_tuning_job(job, self.new_tuning_status)

    def _check_unique(self, body: dict[str, Any], backend: Any) -> None:
        # moto silently replaces a job of the same name; SageMaker refuses.
        job = backend.training_jobs.get(body.get("TrainingJobName"))
        if job is not None:
            raise ApiError(
                "ResourceInUse",
                "Training job names must be unique within an AWS account and region, and a "
                f"training job with this name already exists ({job.arn})",
            )

    def _describe_training_job(self, body: dict[str, Any], backend: Any) -> None:
        if self._stop_due(("training", body.get("TrainingJobName", ""))):
            self._set_training(backend.training_jobs[body["TrainingJobName"]], "Stopped")

    def _describe_tuning_job(self, body: dict[str, Any], backend: Any) -> None:
        name = body.get("HyperParameterTuningJobName", "")
        job = backend.hyper_parameter_tuning_jobs.get(name)
        if job is None:
            return  # moto answers ResourceNotFound
        if self._stop_due(("tuning", name)):
            self._finish_stop(job, backend)
        self._refresh_counters(job, backend)

    def _stop_due(self, key: tuple[str, str]) -> bool:
        """Count one Describe of a stopping job; True when it is time to turn it Stopped."""
        if key not in self.stopping:
            return False
        if self.stopping[key] <= 0:
            del self.stopping[key]
            return True
        self.stopping[key] -= 1
        return False

    # ---- the calls moto does not implement (it answers 500, which botocore retries)

    def _stop_training_job(self, body: dict[str, Any], backend: Any) -> dict[str, Any]:
        job = backend.training_jobs.get(body.get("TrainingJobName"))
        if job is None:
            raise ApiError("ResourceNotFound", "Requested resource not found.")
        self._stop(job.training_job_status, "training job")
        self._set_training(job, "Stopping")
        if self.stopping_describes is not None:
            self.stopping[("training", job.training_job_name)] = self.stopping_describes
        return {}

    def _stop_tuning_job(self, body: dict[str, Any], backend: Any) -> dict[str, Any]:
        job = self._tuning_job(backend, body.get("HyperParameterTuningJobName", ""))
        self._stop(job.hyper_parameter_tuning_job_status, "tuning job")
        job.hyper_parameter_tuning_job_status = "Stopping"
        job.last_modified_time = utcnow()
        for trial in self._trial_jobs(backend, job.hyper_parameter_tuning_job_name):
            if trial.training_job_status == "InProgress":
                self._set_training(trial, "Stopping")
        if self.stopping_describes is not None:
            self.stopping[("tuning", job.hyper_parameter_tuning_job_name)] = self.stopping_describes
        return {}

    @staticmethod
    def _stop(status: str, kind: str) -> None:
        if status != "InProgress":
            raise ApiError(
                "ValidationException",
                f"The request was rejected because the {kind} is in status {status}.",
            )

    def _list_trials(self, body: dict[str, Any], backend: Any) -> dict[str, Any]:
        tuning = self._tuning_job(backend, body.get("HyperParameterTuningJobName", ""))
        rows = [
            self._summary(job)
            for job in self._trial_jobs(backend, tuning.hyper_parameter_tuning_job_name)
        ]
        if body.get("StatusEquals"):
            rows = [r for r in rows if r["TrainingJobStatus"] == body["StatusEquals"]]
        rows = _sort_trials(rows, body.get("SortBy", "Name"), body.get("SortOrder", "Ascending"))
        return _page(rows, body)

    def _list_training_jobs(self, body: dict[str, Any], backend: Any) -> dict[str, Any]:
        # moto pages before it filters (sparse pages) and ignores SortBy/SortOrder (SageMaker:
        # CreationTime, Descending by default).
        jobs = [j for j in backend.training_jobs.values() if _listed(j, body)]
        by = {"Name": "training_job_name", "Status": "training_job_status"}.get(
            body.get("SortBy", ""), "creation_time"
        )
        jobs.sort(key=lambda j: getattr(j, by), reverse=body.get("SortOrder") != "Ascending")
        rows = [
            {
                "TrainingJobName": j.training_job_name,
                "TrainingJobArn": j.arn,
                "CreationTime": j.creation_time,
                "TrainingEndTime": j.training_end_time,
                "LastModifiedTime": j.last_modified_time,
                "TrainingJobStatus": j.training_job_status,
                "SecondaryStatus": j.secondary_status,
            }
            for j in jobs
        ]
        return _page([{k: v for k, v in r.items() if v is not None} for r in rows], body)

    def _summary(self, job: Any) -> dict[str, Any]:
        trial = self.trials[job.training_job_name]
        row = {
            "TrainingJobName": job.training_job_name,
            "TrainingJobArn": job.arn,
            "TuningJobName": trial.tuning_job,
            "CreationTime": job.creation_time,
            "TrainingStartTime": job.training_start_time,
            "TrainingEndTime": job.training_end_time,
            "TrainingJobStatus": job.training_job_status,
            "TunedHyperParameters": trial.tuned,
            "FailureReason": getattr(job, "failure_reason", None),
            "ObjectiveStatus": _objective_status(job.training_job_status, trial.objective),
        }
        if trial.objective is not None:
            row["FinalHyperParameterTuningJobObjectiveMetric"] = {
                **self._objective(trial.tuning_job, job),
                "Value": trial.objective,
            }
        return {k: v for k, v in row.items() if v is not None}

    def _objective(self, tuning_name: str, job: Any) -> dict[str, Any]:
        region = job.arn.split(":")[3]
        objective = _goal(self.backend(region).hyper_parameter_tuning_jobs[tuning_name])
        return {"Type": objective["Type"], "MetricName": objective["MetricName"]}

    # ---- state changes, used by the requests above and by tests (through AwsServer)

    def set_training_job(
        self,
        name: str,
        status: Optional[str] = None,
        secondary: Optional[str] = None,
        failure_reason: Optional[str] = None,
        region: str = "us-east-1",
        **fields: Any,
    ) -> None:
        job = self.backend(region).training_jobs.get(name)
        if job is None:
            raise KeyError(f"no training job {name!r} in {region}")
        if failure_reason is not None:
            job.failure_reason = failure_reason
        for key, value in fields.items():
            # moto describes a training job by CamelCasing its attributes.
            member = "".join(word.title() for word in key.split("_"))
            if member not in _describe_training_members():
                raise AttributeError(f"DescribeTrainingJob has no {member!r} (from {key!r})")
            setattr(job, key, value)
        if status is not None or secondary is not None:
            self._set_training(job, status or job.training_job_status, secondary)

    def _set_training(self, job: Any, status: str, secondary: Optional[str] = None) -> None:
        now = utcnow()
        secondary = secondary or _SECONDARY.get(status, status)
        if secondary != job.secondary_status:
            if job.secondary_status_transitions:
                job.secondary_status_transitions[-1].setdefault("EndTime", now)
            job.secondary_status_transitions.append(
                {"Status": secondary, "StartTime": now, "StatusMessage": f"{secondary}."}
            )
        if secondary == "Training" and job.training_start_time is None:
            job.training_start_time = now
        if status in TERMINAL and job.training_end_time is None:
            job.training_end_time = now
        if status in TERMINAL and getattr(job, "billable_time_in_seconds", None) is None:
            self._bill(job)
        job.training_job_status, job.secondary_status = status, secondary
        job.last_modified_time = now
        if status != "Stopping":
            self.stopping.pop(("training", job.training_job_name), None)

    def _bill(self, job: Any) -> None:
        """DescribeTrainingJob's TrainingTimeInSeconds and BillableTimeInSeconds of an ended
        job (moto sets neither). Both are per instance; "(1 - BillableTimeInSeconds /
        TrainingTimeInSeconds) * 100" is managed spot training's saving (https://docs.aws.
        amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html), so an
        on-demand job's billable time is its training time. A job that never reached
        training has neither."""
        if job.training_start_time is None or job.training_end_time is None:
            return
        ran = _epoch(job.training_end_time) - _epoch(job.training_start_time)
        seconds = max(1, math.ceil(ran))
        saving = self.spot_savings if job.enable_managed_spot_training else 0.0
        job.training_time_in_seconds = seconds
        job.billable_time_in_seconds = max(1, round(seconds * (1 - saving)))

    def _start_training_job(self, job: Any, status: str) -> None:
        """Undo moto's born-Completed job: no start/end time, no fake metrics."""
        job.training_start_time = job.training_end_time = None
        job.final_metric_data_list = None
        job.secondary_status = "Starting"
        job.secondary_status_transitions = [
            {
                "Status": "Starting",
                "StartTime": job.creation_time,
                "StatusMessage": "Launching requested ML instances",
            }
        ]
        job.training_job_status = "InProgress"
        if status != "InProgress":
            self._set_training(job, status)

    def set_tuning_job(
        self,
        name: str,
        status: Optional[str] = None,
        failure_reason: Optional[str] = None,
        region: str = "us-east-1",
        **fields: Any,
    ) -> None:
        job = self._tuning_job(self.backend(region), name)
        for key, value in fields.items():
            if not hasattr(job, key):
                raise AttributeError(f"moto's tuning job has no field {key!r}")
            setattr(job, key, value)
        if failure_reason is not None:
            job.failure_reason = failure_reason
        if status is not None:
            job.hyper_parameter_tuning_job_status = status
            if status in TERMINAL and job.hyper_parameter_tuning_end_time is None:
                job.hyper_parameter_tuning_end_time = utcnow()
            if status != "Stopping":
                self.stopping.pop(("tuning", name), None)
        job.last_modified_time = utcnow()

    def _start_tuning_job(self, job: Any, status: str) -> None:
        """Undo moto's born-Completed tuning job and its invented best training job."""
        job.hyper_parameter_tuning_end_time = None
        job.best_training_job = job.OverallBestTrainingJob = None
        job.tuning_job_completion_details = job.consumed_resources = None
        job.failure_reason = None
        job.hyper_parameter_tuning_job_status = status
        self._refresh_counters(job, None)

    def _finish_stop(self, job: Any, backend: Any) -> None:
        job.hyper_parameter_tuning_job_status = "Stopped"
        job.hyper_parameter_tuning_end_time = job.last_modified_time = utcnow()
        for trial in self._trial_jobs(backend, job.hyper_parameter_tuning_job_name):
            if trial.training_job_status in ("InProgress", "Stopping"):
                self._set_training(trial, "Stopped")

    def add_trial(
        self,
        tuning_job: str,
        *,
        name: Optional[str] = None,
        status: str = "InProgress",
        hyperparameters: Optional[dict[str, str]] = None,
        objective: Optional[float] = None,
        failure_reason: Optional[str] = None,
        region: str = "us-east-1",
    ) -> str:
        """Launch a training job of ``tuning_job``, as SageMaker does for each trial."""
        backend = self.backend(region)
        tuning = self._tuning_job(backend, tuning_job)
        count = sum(t.tuning_job == tuning_job for t in self.trials.values())
        name = name or f"{tuning_job}-{count + 1:03d}-{uuid.uuid4().hex[:8]}"
        tuned = dict(hyperparameters or {})
        job = backend.create_training_job(**_trial_request(tuning, name, tuned))
        # moto overwrites MetricDefinitions with a fake one; keep the tuning job's.
        job.algorithm_specification = _definition(tuning).get("AlgorithmSpecification", {})
        job.tuning_job_arn = tuning.arn
        self.trials[name] = Trial(tuning_job, tuned)
        self._start_training_job(job, "InProgress")
        self.set_trial(name, status=status, objective=objective, failure_reason=failure_reason)
        return name

    def set_trial(
        self,
        name: str,
        *,
        objective: Optional[float] = None,
        region: str = "us-east-1",
        **changes: Any,
    ) -> None:
        """Change a trial's job (as ``set_training_job``) and its final objective value."""
        trial = self.trials[name]
        if objective is not None:
            trial.objective = objective
            job = self.backend(region).training_jobs[name]
            metric = self._objective(trial.tuning_job, job)["MetricName"]
            job.final_metric_data_list = [
                {"MetricName": metric, "Value": objective, "Timestamp": utcnow()}
            ]
        self.set_training_job(name, region=region, **changes)

    def _refresh_counters(self, job: Any, backend: Any) -> None:
        """Derive a tuning job's counters and best trial from its trials, as SageMaker does."""
        jobs = self._trial_jobs(backend, job.hyper_parameter_tuning_job_name) if backend else []
        counters = dict.fromkeys(("Completed", "InProgress", "Stopped"), 0)
        counters.update(RetryableError=0, NonRetryableError=0)
        objectives = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
        for trial_job in jobs:
            status = trial_job.training_job_status
            counters[_TRIAL_COUNTERS.get(status, "NonRetryableError")] += 1
            trial = self.trials[trial_job.training_job_name]
            objectives[_objective_status(status, trial.objective)] += 1
        job.training_job_status_counters, job.objective_status_counters = counters, objectives
        scored = [
            self._summary(j) for j in jobs if self.trials[j.training_job_name].objective is not None
        ]
        if scored:
            pick = min if _goal(job)["Type"] == "Minimize" else max
            best = pick(scored, key=_objective_value)
            job.best_training_job = job.OverallBestTrainingJob = best

    def _trial_jobs(self, backend: Any, tuning_job: str) -> list[Any]:
        return [
            backend.training_jobs[name]
            for name, trial in self.trials.items()
            if trial.tuning_job == tuning_job and name in backend.training_jobs
        ]

    @staticmethod
    def _tuning_job(backend: Any, name: str) -> Any:
        job = backend.hyper_parameter_tuning_jobs.get(name)
        if job is None:
            raise ApiError(
                "ResourceNotFound", f"Amazon SageMaker can't find a tuning job with name {name}"
            )
        return job


def _objective_status(status: str, objective: Optional[float]) -> str:
    if objective is not None:
        return "Succeeded"
    return "Failed" if status in ("Failed", "Stopped") else "Pending"


def _objective_value(row: dict[str, Any]) -> float:
    return float(row["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])


def _sort_trials(rows: list[dict[str, Any]], by: str, order: str) -> list[dict[str, Any]]:
    keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "Name": lambda r: r["TrainingJobName"],
        "CreationTime": lambda r: r["CreationTime"],
        "Status": lambda r: r["TrainingJobStatus"],
        "FinalObjectiveMetricValue": _objective_value,
    }
    if by == "FinalObjectiveMetricValue":  # SageMaker leaves out trials with no objective
        rows = [r for r in rows if "FinalHyperParameterTuningJobObjectiveMetric" in r]
    return sorted(rows, key=keys[by], reverse=order == "Descending")


def _trial_request(tuning: Any, name: str, tuned: dict[str, str]) -> dict[str, Any]:
    """moto ``create_training_job`` arguments for a trial of ``tuning``."""
    spec = _definition(tuning)
    return {
        "training_job_name": name,
        "hyper_parameters": {**spec.get("StaticHyperParameters", {}), **tuned},
        "algorithm_specification": spec.get("AlgorithmSpecification", {}),
        "role_arn": spec.get("RoleArn"),
        "input_data_config": spec.get("InputDataConfig", []),
        "output_data_config": spec.get("OutputDataConfig", {"S3OutputPath": "s3://unset/"}),
        "resource_config": spec.get("ResourceConfig", {}),
        "vpc_config": spec.get("VpcConfig"),
        "stopping_condition": spec.get("StoppingCondition", {}),
        "tags": [],
        "enable_network_isolation": spec.get("EnableNetworkIsolation", False),
        "enable_inter_container_traffic_encryption": False,
        "enable_managed_spot_training": spec.get("EnableManagedSpotTraining", False),
        "checkpoint_config": spec.get("CheckpointConfig"),
        "debug_hook_config": None,
        "debug_rule_configurations": None,
        "tensor_board_output_config": None,
        "experiment_config": None,
    }


def _definition(tuning: Any) -> dict[str, Any]:
    """A copy of the tuning job's (first) training job definition."""
    definitions = [tuning.training_job_definition, *(tuning.training_job_definitions or [])]
    return copy.deepcopy(next((d for d in definitions if d), {}))


def _goal(tuning: Any) -> dict[str, Any]:
    """The tuning objective: in the config, or per definition with TrainingJobDefinitions."""
    objective = tuning.hyper_parameter_tuning_job_config.get("HyperParameterTuningJobObjective")
    return objective or _definition(tuning)["TuningObjective"]


def _page(rows: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    """One page of a SageMaker List* answer (MaxResults default 10, NextToken an offset)."""
    try:
        start = int(body.get("NextToken") or 0)
    except ValueError:
        raise ApiError("ValidationException", "Invalid pagination token.") from None
    end = start + int(body.get("MaxResults") or 10)
    page: dict[str, Any] = {"TrainingJobSummaries": rows[start:end]}
    if end < len(rows):
        page["NextToken"] = str(end)
    return page


def _listed(job: Any, body: dict[str, Any]) -> bool:
    """Whether ListTrainingJobs' filters in ``body`` keep ``job``."""
    if body.get("NameContains", "") not in job.training_job_name:
        return False
    if body.get("StatusEquals") not in (None, job.training_job_status):
        return False
    created, modified = _epoch(job.creation_time), _epoch(job.last_modified_time)
    return (
        created > body.get("CreationTimeAfter", float("-inf"))
        and created < body.get("CreationTimeBefore", float("inf"))
        and modified > body.get("LastModifiedTimeAfter", float("-inf"))
        and modified < body.get("LastModifiedTimeBefore", float("inf"))
    )


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


@functools.cache
def _describe_training_members() -> frozenset[str]:
    from botocore.session import get_session

    model = get_session().get_service_model("sagemaker")
    return frozenset(model.operation_model("DescribeTrainingJob").output_shape.members)
