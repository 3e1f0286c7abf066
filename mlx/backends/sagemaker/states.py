"""SageMaker's job states in mlx's words, mapped at the edge."""

from __future__ import annotations

from typing import Any, Optional

from mlx.model import JobState, JobStatus

_STATES = {
    "InProgress": JobState.RUNNING,
    "Completed": JobState.SUCCEEDED,
    "Failed": JobState.FAILED,
    "Stopping": JobState.CANCELLING,
    "Stopped": JobState.CANCELLED,
    # Tuning jobs only.
    "Deleting": JobState.CANCELLING,
    "DeleteFailed": JobState.FAILED,
}
# An InProgress job has not started the user's command yet in these secondary states.
_NOT_STARTED = frozenset(
    {"Starting", "Pending", "LaunchingMLInstances", "PreparingTrainingStack", "Downloading",
     "DownloadingTrainingImage", "Restarting"}
)  # fmt: skip


def training_state(status: str, secondary: Optional[str] = None) -> JobState:
    state = _STATES.get(status, JobState.PENDING)
    if state == JobState.RUNNING and secondary in _NOT_STARTED:
        return JobState.PENDING
    return state


def training_status(job: dict[str, Any]) -> JobStatus:
    """DescribeTrainingJob's answer as a ``JobStatus``: the failure reason when there is one,
    else the secondary status (``Downloading``, ``Training``, ``MaxRuntimeExceeded``...)."""
    status, secondary = job["TrainingJobStatus"], job.get("SecondaryStatus")
    message = job.get("FailureReason")
    if message is None and secondary and secondary != status:
        message = secondary
    metrics = {m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList") or []}
    return JobStatus(
        training_state(status, secondary),
        message,
        native_state=f"{status}/{secondary}" if secondary else status,
        metrics=metrics,
        # DescribeTrainingJob: "TrainingStartTime: Indicates the time when the training job
        # starts on training instances"; TrainingEndTime when it ended (https://docs.aws.
        # amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html).
        started_at=epoch(job.get("TrainingStartTime")),
        ended_at=epoch(job.get("TrainingEndTime")),
        # "The billable time in seconds", per instance, spot savings included (same page);
        # mlx.catalog.spent prices it. A summary from ListTrainingJobs has none.
        billable_seconds=job.get("BillableTimeInSeconds"),
        transitions=tuple(
            (t["StartTime"].timestamp(), t["Status"], t.get("StatusMessage") or "")
            for t in job.get("SecondaryStatusTransitions") or ()
        ),
    )


def tuning_status(job: dict[str, Any]) -> JobStatus:
    """DescribeHyperParameterTuningJob's answer; metrics are the best trial's objective."""
    status = job["HyperParameterTuningJobStatus"]
    best = (job.get("BestTrainingJob") or {}).get("FinalHyperParameterTuningJobObjectiveMetric")
    metrics = {best["MetricName"]: float(best["Value"])} if best else {}
    return JobStatus(
        _STATES.get(status, JobState.PENDING),
        job.get("FailureReason"),
        native_state=status,
        metrics=metrics,
        ended_at=epoch(job.get("HyperParameterTuningEndTime")),
    )


def epoch(value: Any) -> Optional[float]:
    """A boto3 timestamp (a timezone-aware ``datetime``) as epoch seconds; None stays."""
    return value.timestamp() if value is not None else None
