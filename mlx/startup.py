"""What mlx says while a cloud job starts: where it runs and what it costs, its console
page, and each state change until the job's command runs (minutes on SageMaker, where
instances launch and the image downloads, that were silent).

SageMaker records its own history of secondary states (``SecondaryStatusTransitions``,
each with a ``StatusMessage`` such as "Launching requested ML instances"); they are shown
as the SageMaker Python SDK shows them while it waits, one line per new transition, and
the last one again when only its message changed ("<time> <Status> - <message>":
``secondary_training_status_message`` in aws/sagemaker-python-sdk src/sagemaker/
utils.py). Vertex AI (``JobState``: QUEUED, PENDING, RUNNING...) and Azure ML (NotStarted,
Queued, Preparing, Starting, Running...) keep no such history: each state is shown when
mlx first sees it.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from rich.markup import escape

from mlx import lifecycle
from mlx.console import err
from mlx.errors import Interrupted
from mlx.model import JobRecord, JobState, JobStatus
from mlx.spec import JobSpec
from mlx.store import Store
from mlx.submissions import runs_here
from mlx.timefmt import moment


def announce(spec: JobSpec, record: JobRecord) -> None:
    """The line under ``Started``: the console page (the instance and its price were said
    before the submit: ``mlx.catalog.cost.print_estimate``)."""
    from mlx.providers import get

    if record.rehearsal or get(spec.provider).machines is None:
        return  # it runs here: no instance, no bill, no console
    url = lifecycle.backend_for(record).console_url(record)
    if url:
        err.print(f"Console: {escape(url)}")


def watch_start(record: JobRecord, store: Store) -> JobRecord:
    """Print each state change (stderr) until the job runs its command or ends; return its
    record then. Ctrl-C detaches, as it does while following logs."""
    if runs_here(record) or record.state != JobState.PENDING:
        return record
    try:
        return _watch(record, store, lambda line: err.print(escape(line)))
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped following {record.id}; the job keeps running",
            hint=f"Reattach with `mlx logs -f {record.id}`; stop it with `mlx cancel {record.id}`.",
        ) from None


def _watch(record: JobRecord, store: Store, write: Callable[[str], None]) -> JobRecord:
    backend = lifecycle.backend_for(record)
    shown = StartLines()
    while True:
        status = backend.status(record)
        record = lifecycle.refresh(record, store, status)
        for line in shown.new(status):
            write(line)
        if record.state != JobState.PENDING:
            return record
        time.sleep(backend.pacing.poll)


class StartLines:
    """Which state lines are new since the last status."""

    def __init__(self) -> None:
        self.count = 0
        self.last: Optional[tuple[str, str]] = None

    def new(self, status: JobStatus) -> list[str]:
        if status.transitions:
            return self._recorded(status.transitions)
        label = state_label(status)
        if label is None or (label, "") == self.last:
            return []
        self.last = (label, "")
        return [f"{moment(time.time())} {label}"]

    def _recorded(self, transitions: tuple[tuple[float, str, str], ...]) -> list[str]:
        """The transitions not shown yet; the last again if only its message changed."""
        fresh = list(transitions[self.count :])
        if not fresh and self.last != transitions[-1][1:]:
            fresh = [transitions[-1]]
        self.count = len(transitions)
        if fresh:
            self.last = fresh[-1][1:]
        return [
            f"{moment(at)} {state}" + (f" - {message}" if message else "")
            for at, state, message in fresh
        ]


def state_label(status: JobStatus) -> Optional[str]:
    """A provider's state as people read it: ``JOB_STATE_QUEUED`` -> ``Queued`` (Vertex's
    ``JobState`` names), ``Preparing`` as it is (Azure ML)."""
    native = status.native_state or status.message
    if not native:
        return None
    if native.startswith("JOB_STATE_"):
        return native[len("JOB_STATE_") :].replace("_", " ").capitalize()
    return native
