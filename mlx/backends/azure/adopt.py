"""Azure ML jobs mlx did not launch: ``azure:<job name>``, in the workspace the config
file's ``azure:`` block (or ``MLX_AZURE_*``) names.

Status, logs and cancel work as for any job (the name is all they need: logs are under the
run's ``ExperimentRun/dcid.<name>/`` in the workspace artifact store, as for mlx's jobs).
Artifacts are where Azure ML keeps a job's outputs:

- the files the command wrote to ``./outputs``, which Azure ML uploads to the run's
  artifacts (https://learn.microsoft.com/azure/machine-learning/how-to-save-write-experiment-
  files#where-to-write-files): ``ExperimentRun/dcid.<name>/outputs/`` in the workspace
  artifact store, shown as ``outputs/...``;
- each named output at its ``path``, by default ``azureml://datastores/workspaceblobstore/
  paths/azureml/<name>/<output>/`` (azure-ai-ml's default output path,
  ``${{default_datastore}}/paths/azureml/${{name}}/${{output_name}}``), shown as
  ``<output>/...``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mlx.backends.azure import clients
from mlx.backends.azure.layout import ARTIFACT_STORE, log_prefix
from mlx.backends.azure.settings import workspace_for
from mlx.backends.azure.states import job_status
from mlx.errors import JobNotFound
from mlx.model import JobKind

if TYPE_CHECKING:
    from mlx.backends.azure.backend import AzureBackend
    from mlx.remote import RemoteJob

_DATASTORE_URI = re.compile(r"^azureml://datastores/([^/]+)/paths/(.*)$")
DEFAULT_STORE = "workspaceblobstore"


def describe_for_adoption(backend: AzureBackend, name: str) -> dict[str, Any]:
    """``JobRecord`` fields for job ``name`` (settings from the config file)."""
    from mlx.config_file import settings_block

    settings = settings_block("azure")
    workspace = workspace_for(settings)
    job = _get(backend.ml(workspace), name, workspace.workspace)
    status = job_status(job.status, None)
    created = getattr(job, "creation_context", None)
    resources = getattr(job, "resources", None)
    nodes = int(getattr(resources, "instance_count", None) or 1)
    return {
        "name": job.display_name or name,
        "kind": JobKind.TRAINING,
        "state": status.state,
        "message": status.message,
        "spec": {
            "name": "adopted",
            "provider": "azure",
            "command": str(getattr(job, "command", None) or "true"),
            "resources": {"nodes": nodes},
            "azure": settings.model_dump(mode="json"),
        },
        **({"created_at": created.created_at.timestamp()} if created else {}),
        "location": {**workspace.location(), "datastore": DEFAULT_STORE},
        "artifacts_uri": f"azureml://datastores/{ARTIFACT_STORE}/paths/{log_prefix(name)}outputs/",
        "info": {"adopted": True, "places": places(name, job)},
    }


def _get(ml: Any, name: str, workspace: str) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    with clients.azure_errors(f"jobs.get({name})"):
        try:
            return ml.jobs.get(name)
        except ResourceNotFoundError:
            raise JobNotFound(
                f"Azure ML has no job {name!r} in workspace {workspace}",
                hint="`az ml job list` shows the workspace's jobs; the config file's "
                "`azure:` block (or MLX_AZURE_*) names the workspace.",
            ) from None


def places(name: str, job: Any) -> list[list[str]]:
    """``[datastore, prefix, shown as]`` of every place the job's artifacts are."""
    found = [[ARTIFACT_STORE, f"{log_prefix(name)}outputs/", "outputs/"]]
    for key, output in (getattr(job, "outputs", None) or {}).items():
        if key == "default" or output is None:
            continue
        path = getattr(output, "path", None) or (
            f"azureml://datastores/{DEFAULT_STORE}/paths/azureml/{name}/{key}/"
        )
        match = _DATASTORE_URI.match(str(path))
        if match:  # an output elsewhere (a data asset, a URL) is not listed
            prefix = match.group(2).rstrip("/") + "/"
            found.append([match.group(1), prefix, f"{key}/"])
    return found


def list_remote(backend: AzureBackend, limit: int) -> list[RemoteJob]:
    """The workspace's jobs, newest first as ``jobs.list`` pages them, until ``limit``
    (azure-ai-ml's ``JobOperations.list``: "Lists jobs in the workspace")."""
    from mlx.backends.azure.states import state_of
    from mlx.config_file import settings_block
    from mlx.remote import RemoteJob

    settings = settings_block("azure")
    workspace = workspace_for(settings)
    found: list[RemoteJob] = []
    with clients.azure_errors("jobs.list"):
        for job in backend.ml(workspace).jobs.list():
            if job is None:
                continue
            created = getattr(job, "creation_context", None)
            when = created.created_at.timestamp() if created and created.created_at else None
            found.append(
                RemoteJob(job.name, job.display_name or job.name, state_of(job.status), when)
            )
            if len(found) >= limit:
                break
    return found
