"""Fresh states for ``mlx jobs``: one filtered ``ListTrainingJobs`` (and
``ListHyperParameterTuningJobs``) per region instead of one Describe per job, so a listing
of many jobs stays inside SageMaker's rate limits, and a job that ended while nobody asked
is shown ended.

``ListTrainingJobs`` filters by creation time server-side and returns, per job, its
``TrainingJobStatus`` and ``SecondaryStatus`` (``TrainingJobSummary``:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrainingJobSummary.html),
newest first by default (``SortBy`` CreationTime, ``SortOrder`` Descending:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobs.html). It
has no start time, failure reason or final metrics: a job the listing shows ended is
described once (a refresh stops at a terminal state, so once per job's life).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from mlx.backends.sagemaker.clients import aws_errors
from mlx.backends.sagemaker.states import training_status, tuning_status
from mlx.model import JobKind, JobRecord, JobStatus

if TYPE_CHECKING:
    from mlx.backends.sagemaker.backend import SageMakerBackend

# mlx's clock against SageMaker's: list from a little before the oldest job was created.
_CLOCK_SLACK = 3600.0


@dataclass(frozen=True)
class _Listing:
    """One kind of job: its list call and summaries, and how a summary becomes a state.
    ``ListHyperParameterTuningJobs`` answers ``HyperParameterTuningJobSummaries`` with
    each job's ``HyperParameterTuningJobStatus`` (https://docs.aws.amazon.com/sagemaker/
    latest/APIReference/API_ListHyperParameterTuningJobs.html)."""

    kind: JobKind
    call: str
    summaries: str
    name: str
    describe: str
    # A summary or a description -> its state (the same fields in both).
    state_of: Callable[[dict[str, Any]], JobStatus]


_LISTINGS = (
    _Listing(
        JobKind.TRAINING,
        "list_training_jobs",
        "TrainingJobSummaries",
        "TrainingJobName",
        "describe_training_job",
        training_status,
    ),
    _Listing(
        JobKind.TUNING,
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobName",
        "describe_hyper_parameter_tuning_job",
        tuning_status,
    ),
)


def list_states(backend: SageMakerBackend, records: list[JobRecord]) -> dict[str, JobStatus]:
    """Fresh states of ``records`` (training and tuning jobs; trials are synced with
    their tuning job), by mlx job id; jobs a listing does not show keep their state."""
    found: dict[str, JobStatus] = {}
    for listing in _LISTINGS:
        wanted = [r for r in records if r.kind == listing.kind and r.native_id]
        for region in {r.location.get("region") for r in wanted}:
            mine = [r for r in wanted if r.location.get("region") == region]
            found.update(_one_region(backend, listing, mine))
    return found


def _one_region(
    backend: SageMakerBackend, listing: _Listing, records: list[JobRecord]
) -> dict[str, JobStatus]:
    sm = backend.record_clients(records[0]).sagemaker
    names = {str(r.native_id): r.id for r in records}
    since = datetime.fromtimestamp(min(r.created_at for r in records) - _CLOCK_SLACK, timezone.utc)
    pages = sm.get_paginator(listing.call).paginate(
        CreationTimeAfter=since, PaginationConfig={"PageSize": 100}
    )
    found: dict[str, JobStatus] = {}
    with aws_errors(listing.call):
        for page in pages:
            for row in page[listing.summaries]:
                job_id = names.pop(row[listing.name], None)
                if job_id is not None:
                    found[job_id] = _status(sm, listing, row)
            if not names:
                break
    return found


def _status(sm: Any, listing: _Listing, row: dict[str, Any]) -> JobStatus:
    """The summary's state; for a job that ended, its full description (reason, times,
    metrics)."""
    status = listing.state_of(row)
    if not status.state.terminal:
        return status
    name = row[listing.name]
    with aws_errors(f"{listing.describe} {name}"):
        return listing.state_of(getattr(sm, listing.describe)(**{listing.name: name}))
