"""Jobs mlx did not launch: ``sagemaker:<training-job-name>``.

Status, logs and cancel work as for any job (the name is all they need). Artifacts are the
job's ``ModelArtifacts.S3ModelArtifacts``: usually a ``model.tar.gz``, whose members are
listed and pulled by streaming it (``archive.py``); an uncompressed model is a prefix,
listed file by file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mlx.backends.sagemaker import archive
from mlx.backends.sagemaker.clients import aws_errors
from mlx.backends.sagemaker.objects import S3Store
from mlx.backends.sagemaker.states import training_status
from mlx.cloud.layout import split_uri
from mlx.errors import MlxError
from mlx.model import JobKind, JobRecord

if TYPE_CHECKING:
    from mlx.backends.sagemaker.backend import SageMakerBackend
    from mlx.remote import RemoteJob
    from mlx.transfer import PullResult


def describe_for_adoption(backend: SageMakerBackend, name: str) -> dict[str, Any]:
    """``JobRecord`` fields for training job ``name`` (settings from the config file)."""
    from mlx.config_file import settings_block

    settings = settings_block("sagemaker")
    aws = backend.clients(settings)
    missing = f"SageMaker has no training job {name!r} in {aws.region}"
    with aws_errors(f"DescribeTrainingJob {name}", missing=missing):
        job = aws.sagemaker.describe_training_job(TrainingJobName=name)
    status = training_status(job)
    ended = job.get("TrainingEndTime")
    return {
        "name": name,
        "kind": JobKind.TRAINING,
        "state": status.state,
        "message": status.message,
        "metrics": status.metrics,
        "spec": {
            "name": name,
            "provider": "sagemaker",
            "resources": {
                "nodes": job.get("ResourceConfig", {}).get("InstanceCount", 1),
                # What it runs on, so its cost can be priced (mlx.catalog.spent).
                **_instance_type(job),
            },
            "sagemaker": settings.model_dump(mode="json"),
        },
        "created_at": job["CreationTime"].timestamp(),
        "ended_at": ended.timestamp() if ended and status.state.terminal else None,
        "location": {"region": aws.region},
        "artifacts_uri": job.get("OutputDataConfig", {}).get("S3OutputPath"),
        "info": {
            "adopted": True,
            # Recorded as a refresh would: an ended job is not asked again (its cost).
            **({"billable_seconds": status.billable_seconds} if status.billable_seconds else {}),
        },
    }


def _instance_type(job: dict[str, Any]) -> dict[str, Any]:
    found = (job.get("ResourceConfig") or {}).get("InstanceType")
    return {"instance_type": {"sagemaker": found}} if found else {}


def model_uri(backend: SageMakerBackend, record: JobRecord) -> str:
    """The adopted job's model artifacts now (a job still running has none yet)."""
    sm = backend.record_clients(record).sagemaker
    with aws_errors(f"DescribeTrainingJob {record.native_id}"):
        job = sm.describe_training_job(TrainingJobName=record.native_id)
    uri = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if not uri:
        raise MlxError(
            f"SageMaker job {record.native_id} has no model artifacts (yet)",
            hint=f"`mlx status {record.id}` shows its state.",
        )
    return uri


def is_archive(uri: Optional[str]) -> bool:
    return bool(uri) and uri.endswith((".tar.gz", ".tgz", ".tar"))  # type: ignore[union-attr]


def pull_archive(
    s3: Any,
    record: JobRecord,
    uri: str,
    request: tuple[list[str], list[str]],
    dest: Path,
    show_progress: bool,
) -> PullResult:
    """Extract the members ``request`` (include, exclude globs) selects, in one pass."""
    from mlx import progress
    from mlx.transfer import PullResult, nothing_matches

    include, exclude = request
    bucket, key = split_uri(uri)
    reading = f"Reading {uri.rsplit('/', 1)[-1]}"
    with progress.transfer(reading, None, enabled=show_progress) as advance:
        written, read = archive.extract(
            S3Store(s3, bucket), key, include, exclude, dest, on_read=advance
        )
    if not written:
        raise nothing_matches(record.id, include, exclude)
    return PullResult(sorted(written), [], dest, read)


def list_remote(backend: SageMakerBackend, limit: int) -> list[RemoteJob]:
    """The region's training jobs, newest first: ``ListTrainingJobs`` sorted by creation
    time, at most 100 a page (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_ListTrainingJobs.html), read page by page until ``limit``."""
    from mlx.backends.sagemaker.states import training_state
    from mlx.config_file import settings_block
    from mlx.remote import RemoteJob

    settings = settings_block("sagemaker")
    aws = backend.clients(settings)
    pages = aws.sagemaker.get_paginator("list_training_jobs").paginate(
        SortBy="CreationTime",
        SortOrder="Descending",
        PaginationConfig={"PageSize": min(limit, 100), "MaxItems": limit},
    )
    found: list[RemoteJob] = []
    with aws_errors(f"ListTrainingJobs in {aws.region}"):
        for page in pages:
            for job in page["TrainingJobSummaries"]:
                state = training_state(job["TrainingJobStatus"], job.get("SecondaryStatus"))
                name = job["TrainingJobName"]
                found.append(RemoteJob(name, name, state, job["CreationTime"].timestamp()))
    return found[:limit]
