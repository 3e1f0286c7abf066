"""Azure ML's job states in mlx's words, mapped at the edge."""

from __future__ import annotations

from typing import Any, Optional

from mlx.model import JobState, JobStatus

_STATES = {
    "NotStarted": JobState.PENDING,
    "Queued": JobState.PENDING,
    "Preparing": JobState.PENDING,
    "Provisioning": JobState.PENDING,
    "Starting": JobState.PENDING,
    "Running": JobState.RUNNING,
    "Finalizing": JobState.RUNNING,
    "CancelRequested": JobState.CANCELLING,
    "Completed": JobState.SUCCEEDED,
    "Failed": JobState.FAILED,
    "Canceled": JobState.CANCELLED,
    # Rare ones: a job the service gave up on, or one paused by the user.
    "NotResponding": JobState.FAILED,
    "Paused": JobState.PENDING,
}


def native_name(native: Any) -> str:
    """azure-ai-ml gives ``JobStatus.COMPLETED`` (a str enum) or plain text."""
    return str(getattr(native, "value", native) or "")


def state_of(native: Any) -> JobState:
    """Unknown states (the service adds some now and then) count as pending."""
    return _STATES.get(native_name(native), JobState.PENDING)


def job_status(native: Any, error: Optional[str]) -> JobStatus:
    state, native = state_of(native), native_name(native)
    message = error if state in (JobState.FAILED, JobState.CANCELLED) else None
    if state == JobState.FAILED and not message:
        message = f"the job ended {native}"
    return JobStatus(state, message, native_state=native)


def run_error(details: Any) -> Optional[str]:
    """The failure message in run-history details (``error.error.message``), if any."""
    error = getattr(getattr(details, "error", None), "error", None)
    message = getattr(error, "message", None)
    return str(message).strip() or None if message else None
