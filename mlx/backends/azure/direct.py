"""A submitted Azure ML job's state, logs and artifacts without azure-ai-ml (1.5 s to
import): its run history and its datastores' blobs, through azure-core's pipeline,
azure-identity's credentials and azure-storage-blob.

What those calls need is recorded at submit, while azure-ai-ml is loaded anyway
(``at_submit``), in the job's ``info["endpoints"]``: the resource manager URL and token
scopes azure-ai-ml used, the run-history URL (the ``api`` URL of the workspace's
discovery document, which azure-ai-ml's ``JobOperations._api_url`` reads) and its scopes,
and each datastore's account URL and container. No secret is recorded: a datastore's key
is asked for when needed (``Datastores - List Secrets``), as azure-ai-ml's
``datastores.get(include_secrets=True)`` does. Jobs recorded before this have no such
entry and go through azure-ai-ml as before (``recorded`` is None).

REST calls, as azure-ai-ml 1.35 makes them (Azure/azure-sdk-for-python,
sdk/ml/azure-ai-ml/azure/ai/ml/_restclient/runhistory/operations/_runs_operations.py,
``build_get_details_request``; the REST reference "Datastores - List Secrets"):

- ``GET {api}/history/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/
  Microsoft.MachineLearningServices/workspaces/{ws}/runs/{run}/details``: the run's
  ``status`` (the job's states: ``states``), ``error.error.message``, ``startTimeUtc``,
  ``endTimeUtc``; ``api-version=v1.0`` (the run-history client's only version, in its
  ``_configuration.py``);
- ``POST {arm}/subscriptions/{sub}/resourceGroups/{rg}/providers/
  Microsoft.MachineLearningServices/workspaces/{ws}/datastores/{name}/listSecrets
  ?api-version=2024-04-01``: ``{"secretsType": "AccountKey", "key"}`` or
  ``{"secretsType": "Sas", "sasToken"}``; 403 when the caller may not read them, and then
  the caller's own credential reads the blobs (Storage Blob Data Reader), as ``clients``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Optional

from mlx.backends.azure import clients, settings
from mlx.backends.azure.settings import Workspace
from mlx.errors import BackendError
from mlx.model import JobState, JobStatus

if TYPE_CHECKING:
    from mlx.cloud.pacing import Pacing
    from mlx.model import JobRecord

KEY = "endpoints"  # in a job's info
SECRETS_API_VERSION = "2024-04-01"
RUN_HISTORY_API_VERSION = "v1.0"
_WORKSPACE = (
    "/subscriptions/{sub}/resourceGroups/{rg}/providers/"
    "Microsoft.MachineLearningServices/workspaces/{ws}"
)
_RUN_DETAILS = "/history/v1.0" + _WORKSPACE + "/runs/{run}/details"
_LIST_SECRETS = _WORKSPACE + "/datastores/{name}/listSecrets"


def at_submit(ml: Any, datastores: Iterable[str]) -> dict[str, Any]:
    """What ``status``, ``logs`` and ``pull-artifacts`` need later, read from ``ml`` (an
    ``MLClient``; the run-history URL costs its workspace GET and discovery GET once)."""
    runs = ml.jobs._runs_operations  # built on the discovery document's "api" URL
    stores = {}
    for name in dict.fromkeys(datastores):
        with clients.azure_errors(f"datastores.get({name})"):
            store = ml.datastores.get(name)
        stores[name] = {
            "account_url": f"{store.protocol or 'https'}://{store.account_name}.blob."
            f"{store.endpoint}",
            "account": store.account_name,
            "container": store.container_name,
        }
    return {
        "arm": ml._base_url,
        "arm_scopes": list(ml.jobs._service_client._config.credential_scopes),
        "api": ml.jobs._api_url,
        "api_scopes": list(runs._operation._config.credential_scopes),
        "stores": stores,
    }


def recorded(record: JobRecord, datastore: Optional[str] = None) -> Optional[dict[str, Any]]:
    """The job's recorded endpoints (with ``datastore`` among them when given), or None."""
    found = record.info.get(KEY)
    if not isinstance(found, dict) or not found.get("api"):
        return None
    if datastore is not None and datastore not in (found.get("stores") or {}):
        return None
    return found


def pipeline(base_url: str, scopes: list[str], pacing: Pacing) -> Any:
    """An azure-core ``PipelineClient`` for ``base_url``: azure-core's retries (429, 408,
    5xx, honouring ``Retry-After``), as many as ``MLClient``'s, and a bearer token."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy

    found = settings.endpoints()
    if found.access_token:
        auth = clients.static_token_policy(found.access_token)
    else:
        auth = BearerTokenCredentialPolicy(clients.credential(found), *scopes)
    retry = RetryPolicy(
        retry_total=pacing.retry_attempts,
        retry_status=pacing.retry_attempts,
        retry_backoff_factor=pacing.retry_initial,
    )
    return PipelineClient(base_url, policies=[retry, auth])


def run_details(api: Any, workspace: Workspace, run_id: str) -> dict[str, Any]:
    """Run history's details of ``run_id`` (JSON), through ``api`` (``pipeline``)."""
    path = _RUN_DETAILS.format(**_scope(workspace), run=run_id)
    call = f"run details of {run_id}"
    return dict(_send(api, "GET", path, RUN_HISTORY_API_VERSION, call).json())


def status_of(details: dict[str, Any]) -> JobStatus:
    """A job's status from its run details: the state, the failure reason of a job that
    failed or was cancelled, and the run's own start and end."""
    from dataclasses import replace

    from mlx.backends.azure.runs import _epoch
    from mlx.backends.azure.states import job_status, state_of

    native = details.get("status")
    error = ((details.get("error") or {}).get("error") or {}).get("message")
    failed = state_of(native) in (JobState.FAILED, JobState.CANCELLED)
    status = job_status(native, str(error).strip() or None if failed and error else None)
    ended = _epoch(details.get("endTimeUtc")) if status.state.terminal else None
    return replace(status, started_at=_epoch(details.get("startTimeUtc")), ended_at=ended)


def container(
    arm: Any, workspace: Workspace, datastore: str, store: dict[str, str], pacing: Pacing
) -> Any:
    """A ``ContainerClient`` for ``datastore``'s recorded container, with its key or SAS
    token when the caller may read them, else the caller's credential."""
    from azure.storage.blob import ContainerClient

    found = settings.endpoints()
    return ContainerClient(
        found.blob_endpoint or store["account_url"],
        store["container"],
        credential=_blob_credential(arm, workspace, datastore, store),
        retry_policy=clients._storage_retry(pacing),
    )


def _blob_credential(arm: Any, workspace: Workspace, datastore: str, store: dict) -> Any:
    path = _LIST_SECRETS.format(**_scope(workspace), name=datastore)
    try:
        call = f"datastores.listSecrets({datastore})"
        secrets = _send(arm, "POST", path, SECRETS_API_VERSION, call).json()
    except BackendError as e:
        if getattr(e.__cause__, "status_code", None) != 403:
            raise
        secrets = {}
    if secrets.get("secretsType") == "AccountKey" and secrets.get("key"):
        return {"account_name": store["account"], "account_key": secrets["key"]}
    if secrets.get("secretsType") == "Sas" and secrets.get("sasToken"):
        return secrets["sasToken"]
    return clients.credential(settings.endpoints())


def _scope(workspace: Workspace) -> dict[str, str]:
    return {"sub": workspace.subscription_id, "rg": workspace.resource_group,
            "ws": workspace.workspace}  # fmt: skip


def _send(client: Any, method: str, path: str, version: str, call: str) -> Any:
    from azure.core.rest import HttpRequest

    params = {"api-version": version}
    request = HttpRequest(method, client.format_url(path), params=params)
    with clients.azure_errors(call):
        response = client.send_request(request)
        response.raise_for_status()
    return response
