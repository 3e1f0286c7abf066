"""Vertex AI custom jobs mlx did not launch: ``vertex:<id>`` (the number the console and
``gcloud ai custom-jobs list`` show) or ``vertex:projects/<p>/locations/<l>/customJobs/<id>``.

A bare number is looked up in the project and location of the config file's ``vertex:``
block (or ``GOOGLE_CLOUD_PROJECT``). Status, logs and cancel then work as for any job (the
resource name is all they need); artifacts are everything under the job's
``baseOutputDirectory``: Vertex sets ``AIP_MODEL_DIR``, ``AIP_CHECKPOINT_DIR`` and
``AIP_TENSORBOARD_LOG_DIR`` to its ``model/``, ``checkpoints/`` and ``logs/``
(https://cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec, field
``baseOutputDirectory``).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from mlx.backends.vertex.clients import gcp_errors
from mlx.backends.vertex.settings import Target, VertexSettings, check_project
from mlx.backends.vertex.states import job_status
from mlx.cloud.layout import split_uri
from mlx.errors import JobNotFound, MlxError
from mlx.model import JobKind, JobRecord

if TYPE_CHECKING:
    from mlx.backends.vertex.backend import VertexBackend
    from mlx.remote import RemoteJob

_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/customJobs/([0-9]+)$")
_HINT = (
    "Give the job's number (`gcloud ai custom-jobs list` shows it) with `vertex.project` and "
    "`vertex.location` in the config file, or its full name projects/P/locations/L/"
    "customJobs/ID. Tuning jobs are not adopted."
)


def resource_name(native: str, settings: VertexSettings) -> tuple[str, str, str]:
    """(project, location, full resource name) of ``native``."""
    match = _NAME.match(native)
    if match:
        project, location, _number = match.groups()
        return project, location, native
    if not native.isdigit():
        raise JobNotFound(f"vertex:{native} names no Vertex AI custom job", hint=_HINT)
    project = check_project(settings.project or os.environ.get("GOOGLE_CLOUD_PROJECT"))
    name = f"projects/{project}/locations/{settings.location}/customJobs/{native}"
    return project, settings.location, name


def describe_for_adoption(backend: VertexBackend, native: str) -> dict[str, Any]:
    """``JobRecord`` fields for custom job ``native`` (settings from the config file)."""
    from mlx.config_file import settings_block

    settings = settings_block("vertex")
    project, location, name = resource_name(native, settings)
    bucket = (settings.bucket or "").removeprefix("gs://").rstrip("/")
    jobs = backend.clients(Target(project, location, bucket)).jobs
    with gcp_errors(f"GetCustomJob {name}", missing=f"Vertex AI has no custom job {name!r}"):
        job = jobs.get_custom_job(name=name, retry=backend.backoff.retry())
    status = job_status(job)
    output = job.job_spec.base_output_directory.output_uri_prefix or None
    where = split_uri(output) if output else (bucket, "")
    replicas = sum(int(pool.replica_count or 0) for pool in job.job_spec.worker_pool_specs)
    return {
        "name": job.display_name or native,
        "native_id": job.name,
        "kind": JobKind.TRAINING,
        "state": status.state,
        "message": status.message,
        "spec": {
            "name": "adopted",
            "provider": "vertex",
            "resources": {"nodes": max(replicas, 1)},
            "vertex": settings.model_dump(mode="json"),
        },
        "created_at": job.create_time.timestamp(),
        "ended_at": status.ended_at if status.state.terminal else None,
        "location": {"project": project, "location": location, "bucket": where[0]},
        "artifacts_uri": output,
        "info": {"adopted": True, "artifact_prefix": _as_prefix(where[1]) if output else None},
    }


def _as_prefix(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def adopted_prefix(record: JobRecord) -> str:
    """The adopted job's prefix in its bucket (its ``baseOutputDirectory``)."""
    prefix = record.info.get("artifact_prefix")
    if prefix is None:
        raise MlxError(
            f"Vertex AI job {record.native_id} has no baseOutputDirectory: its artifacts are "
            "wherever its script wrote them",
            hint=f"`mlx logs {record.id}` may say where.",
        )
    return str(prefix)


def list_remote(backend: VertexBackend, limit: int) -> list[RemoteJob]:
    """The location's custom jobs: ``ListCustomJobs`` pages (its request has no order, so
    what was read is sorted newest first), until ``limit``."""
    from mlx.config_file import settings_block
    from mlx.remote import RemoteJob

    settings = settings_block("vertex")
    project = check_project(settings.project or os.environ.get("GOOGLE_CLOUD_PROJECT"))
    target = Target(project, settings.location, "")
    request = {"parent": target.parent, "page_size": min(limit, 100)}
    found: list[RemoteJob] = []
    with gcp_errors(f"ListCustomJobs in {target.parent}"):
        pager = backend.clients(target).jobs.list_custom_jobs(
            request=request, retry=backend.backoff.retry()
        )
        for job in pager:
            number = job.name.rsplit("/", 1)[-1]
            state = job_status(job).state
            created = job.create_time.timestamp()
            found.append(RemoteJob(number, job.display_name, state, created, job.name))
            if len(found) >= limit:
                break
    return sorted(found, key=lambda j: j.created_at or 0, reverse=True)
