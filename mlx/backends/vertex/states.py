"""Vertex's vocabulary mapped onto mlx's at the edge: job states, trials, errors."""

from __future__ import annotations

from typing import Any, Optional

from mlx.model import JobState, JobStatus, TrialStatus
from mlx.runtime.values import trial_value

_STATES = {
    "JOB_STATE_QUEUED": JobState.PENDING,
    "JOB_STATE_PENDING": JobState.PENDING,
    "JOB_STATE_PAUSED": JobState.PENDING,
    "JOB_STATE_RUNNING": JobState.RUNNING,
    "JOB_STATE_UPDATING": JobState.RUNNING,
    "JOB_STATE_CANCELLING": JobState.CANCELLING,
    "JOB_STATE_SUCCEEDED": JobState.SUCCEEDED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": JobState.SUCCEEDED,
    "JOB_STATE_FAILED": JobState.FAILED,
    "JOB_STATE_EXPIRED": JobState.FAILED,
    "JOB_STATE_CANCELLED": JobState.CANCELLED,
}
# Trial.State: REQUESTED, ACTIVE, STOPPING (being stopped early), SUCCEEDED, INFEASIBLE.
_TRIAL_STATES = {
    "REQUESTED": JobState.PENDING,
    "ACTIVE": JobState.RUNNING,
    "STOPPING": JobState.RUNNING,
    "SUCCEEDED": JobState.SUCCEEDED,
    "INFEASIBLE": JobState.FAILED,
}
# mlx's names for the states `mlx jobs --status` filters on server-side.
NATIVE_STATES = {state: [n for n, s in _STATES.items() if s == state] for state in JobState}


def job_state(native: str) -> JobState:
    return _STATES.get(native, JobState.PENDING)


def job_status(job: Any, metrics: Optional[dict[str, float]] = None) -> JobStatus:
    """A ``CustomJob`` or ``HyperparameterTuningJob`` message as a ``JobStatus``; the
    message is the job's error message (Vertex's reason for a failure)."""
    native = job.state.name
    state = job_state(native)
    message = (job.error.message or None) if "error" in job else None
    # Vertex reports no exit code; the replica's is only in the error message.
    exit_code = 0 if state == JobState.SUCCEEDED else None
    return JobStatus(
        state,
        message,
        exit_code,
        native,
        metrics or {},
        # CustomJob.start_time: "Time when the CustomJob for the first time entered the
        # JOB_STATE_RUNNING state"; end_time: "...entered any of the following states:
        # JOB_STATE_SUCCEEDED, JOB_STATE_FAILED, JOB_STATE_CANCELLED" (https://cloud.google.
        # com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs).
        started_at=_epoch(job, "start_time"),
        ended_at=_epoch(job, "end_time"),
    )


def _epoch(message: Any, field: str) -> Optional[float]:
    """A proto ``Timestamp`` field as epoch seconds; None when the field is not set."""
    return getattr(message, field).timestamp() if field in message else None


def trial_status(trial: Any, job_name: str, objective: str, space: dict[str, Any]) -> TrialStatus:
    """One ``Trial`` of a tuning job; its parameters typed as the spec's search space."""
    params = {
        p.parameter_id: trial_value(space.get(p.parameter_id, {}), p.value)
        for p in trial.parameters
    }
    value = None
    for metric in trial.final_measurement.metrics:
        if metric.metric_id == objective:
            value = metric.value
    return TrialStatus(
        number=int(trial.id),
        native_id=f"{job_name}/trials/{trial.id}",
        state=_TRIAL_STATES.get(trial.state.name, JobState.PENDING),
        params=params,
        objective=value,
        message=trial.infeasible_reason or None,
        # Trial.start_time / end_time: when the trial was created / became terminal
        # (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.
        # studies.trials).
        started_at=_epoch(trial, "start_time"),
        ended_at=_epoch(trial, "end_time"),
    )


def trial_native(native_id: str) -> tuple[str, str]:
    """``<tuning job name>/trials/<id>`` -> (tuning job name, trial id)."""
    job_name, _, trial = native_id.rpartition("/trials/")
    return job_name, trial


def numeric_id(name: str) -> str:
    """``projects/p/locations/l/customJobs/123`` -> ``123`` (the id logs are labelled with)."""
    return name.rsplit("/", 1)[-1]
