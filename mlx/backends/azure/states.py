"""Azure ML's job states in mlx's words, mapped at the edge.

The table covers every member of the service's ``JobStatus`` enum, as azure-ai-ml 1.35.2
documents it (``azure/ai/ml/_restclient/arm_ml_service/models/_enums.py``, class
``JobStatus``; the same enum as the REST API's ``JobStatus`` in the Machine Learning
Services REST reference). Only ``Completed``, ``Failed`` and ``Canceled`` are final:

- ``NotResponding``: "When heartbeat is enabled, if the run isn't updating any information
  to RunHistory then the run goes to NotResponding state. NotResponding is the only state
  that is exempt from strict transition orders. A run can go from NotResponding to any of
  the previous states." The job may still be running (and billing): mlx keeps waiting and
  says why. azure-ai-ml's own ``RunHistoryConstants.TERMINAL_STATUSES``
  (``operations/_run_history_constants.py``) lists it, and ``Paused``, only to stop
  ``jobs.stream``; the service's enum is what a job can do next.
- ``Paused``: "The job is paused by users": not running, not over.
- ``Provisioning``: "(Not used currently) It will be used if ES is creating the compute
  target"; ``Unknown``: "Default job status if not mapped to all other statuses".
"""

from __future__ import annotations

from typing import Any, Optional

from mlx.model import JobState, JobStatus

_STATES = {
    "NotStarted": JobState.PENDING,  # "Run hasn't started yet."
    "Starting": JobState.PENDING,  # "Run has started. The user has a run ID."
    "Provisioning": JobState.PENDING,
    "Preparing": JobState.PENDING,  # "The run environment is being prepared."
    "Queued": JobState.PENDING,  # "queued in the compute target", waiting for nodes
    "Running": JobState.RUNNING,
    "Finalizing": JobState.RUNNING,  # "completed in the target... output collection"
    "CancelRequested": JobState.CANCELLING,
    "Completed": JobState.SUCCEEDED,
    "Failed": JobState.FAILED,
    "Canceled": JobState.CANCELLED,
    "NotResponding": JobState.RUNNING,  # may return to any earlier state (see above)
    "Paused": JobState.PENDING,
    "Unknown": JobState.PENDING,
}
_NOT_RESPONDING = (
    "NotResponding: Azure ML has had no heartbeat from the job lately; it may resume "
    "(mlx keeps waiting; `mlx cancel` stops it)"
)


def native_name(native: Any) -> str:
    """azure-ai-ml gives ``JobStatus.COMPLETED`` (a str enum) or plain text."""
    return str(getattr(native, "value", native) or "")


def state_of(native: Any) -> JobState:
    """Unknown states (the service adds some now and then) count as pending."""
    return _STATES.get(native_name(native), JobState.PENDING)


def status_message(native: Any, error: Optional[str]) -> Optional[str]:
    """The failure reason of a failed or cancelled job; else Azure's own state, as
    SageMaker's secondary status is shown (``Queued``, ``Preparing``, ``NotResponding``),
    so a message never outlives the state it described."""
    state, name = state_of(native), native_name(native)
    if state in (JobState.FAILED, JobState.CANCELLED):
        return error or (f"the job ended {name}" if state == JobState.FAILED else None)
    if name == "NotResponding":
        return _NOT_RESPONDING
    return name or None


def job_status(native: Any, error: Optional[str]) -> JobStatus:
    return JobStatus(
        state_of(native), status_message(native, error), native_state=native_name(native)
    )


def with_run_times(status: JobStatus, details: Any) -> JobStatus:
    """``status`` with the run's own start and end (run history's ``RunDetails.
    start_time_utc``/``end_time_utc``, azure-ai-ml's runhistory models; JSON
    ``startTimeUtc``/``endTimeUtc``); unchanged without details."""
    from dataclasses import replace

    start = getattr(details, "start_time_utc", None)
    end = getattr(details, "end_time_utc", None)
    return replace(
        status,
        started_at=start.timestamp() if start else None,
        ended_at=end.timestamp() if end else None,
    )


def run_error(details: Any) -> Optional[str]:
    """The failure message in run-history details (``error.error.message``), if any."""
    error = getattr(getattr(details, "error", None), "error", None)
    message = getattr(error, "message", None)
    return str(message).strip() or None if message else None
