"""SDK clients for one workspace, and Azure errors turned into mlx's at the edge.

``MLClient`` (azure-ai-ml) for jobs, ``ContainerClient`` (azure-storage-blob) for a
datastore's container. Both retry through their SDK's retry policy: azure-core's retries
429, 408 and 5xx with exponential backoff (honouring ``Retry-After``); azure-storage-blob's
retries 5xx and 408 (Azure Storage throttles with 503), and ``_ThrottledRetry`` adds 429,
which a proxy or private endpoint in front of storage may answer.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlx.backends.azure import settings
from mlx.backends.azure.settings import Endpoints, Workspace
from mlx.errors import BackendError, BackendUnavailable

if TYPE_CHECKING:
    from mlx.cloud.pacing import Pacing

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CREDENTIALS_HINT = "Run `az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET)."


@contextlib.contextmanager
def azure_errors(call: str) -> Iterator[None]:
    """Turn the SDKs' exceptions into one-line mlx errors naming ``call``."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    try:
        yield
    except CredentialUnavailableError as e:
        raise BackendUnavailable(
            f"no Azure credentials found ({call})", hint=CREDENTIALS_HINT
        ) from e
    except ClientAuthenticationError as e:
        raise BackendUnavailable(
            f"Azure refused the credentials ({call}): {_first_line(e)}", hint=CREDENTIALS_HINT
        ) from e
    except AzureError as e:  # an error answer, or none at all (refused, reset, timeout)
        raise BackendError(f"Azure ML {call} failed: {_first_line(e)}") from e
    except _ml_exception() as e:  # azure-ai-ml's own checks (a job document it cannot load)
        raise BackendError(f"Azure ML {call}: {_first_line(e)}") from e


def _ml_exception() -> type[Exception]:
    """azure-ai-ml's ``MlException`` once it is loaded (only it raises one); never loaded
    for it: calls made without azure-ai-ml (``direct``) must not import it."""
    if "azure.ai.ml" not in sys.modules:
        return _NeverRaised
    from azure.ai.ml.exceptions import MlException

    return MlException


class _NeverRaised(Exception):
    pass


def _first_line(error: Exception) -> str:
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    # azure-ai-ml colours its validation messages (azure/ai/ml/_exception_helper.py uses
    # colorama): without the escape codes, a line of them alone is empty.
    text = _ANSI.sub("", str(text))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = next((line for line in lines if line.startswith("Message:")), None)
    if message:  # Azure's own error message
        return message[len("Message:") :].strip()
    # azure-ai-ml's formatted validation error: its first detail, "(x) <what>" up to the
    # next blank line (the cause follows it: "Met <exception>: ...").
    for paragraph in re.split(r"\n\s*\n", text):
        if paragraph.strip().startswith("(x)"):
            return " ".join(paragraph.strip()[len("(x)") :].split())
    return lines[0] if lines else "error"


def ml_client(workspace: Workspace, pacing: Pacing) -> Any:
    """An ``MLClient`` for ``workspace``, telemetry and progress bars off."""
    from azure.ai.ml import MLClient

    found = settings.endpoints()
    options: dict[str, Any] = {
        "enable_telemetry": False,
        "show_progress": False,
        "retry_backoff_factor": pacing.retry_initial,
        "retry_total": pacing.retry_attempts,
        # azure-core stops after 3 error answers (retry_status) whatever retry_total says
        "retry_status": pacing.retry_attempts,
    }
    if found.cloud:
        options["cloud"] = found.cloud
    if found.cloud_metadata:
        options["cloud_metadata"] = found.cloud_metadata
    if found.access_token:
        options["authentication_policy"] = static_token_policy(found.access_token)
    _quiet_sdk_logs()
    return MLClient(
        credential(found),
        workspace.subscription_id,
        workspace.resource_group,
        workspace.workspace,
        **options,
    )


def credential(found: Endpoints) -> Any:
    """``MLX_AZURE_ACCESS_TOKEN`` when set, else ``DefaultAzureCredential`` (environment,
    managed identity, ``az login``...; ``AZURE_AUTHORITY_HOST`` picks a sovereign cloud)."""
    if found.access_token:
        return StaticTokenCredential(found.access_token)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class StaticTokenCredential:
    """A ``TokenCredential`` that returns one given bearer token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        import time

        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3600)


def static_token_policy(token: str) -> Any:
    """An azure-core policy that sends ``Authorization: Bearer <token>``, http or https.

    azure-core's bearer policies refuse plain http (an emulator, a private test server);
    ``MLClient`` also passes ``enforce_https=False`` to http endpoints' operations, which
    the policy replaced would consume and which otherwise reaches ``requests`` and fails.
    """
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class StaticTokenPolicy(SansIOHTTPPolicy):
        def on_request(self, request: Any) -> None:
            request.context.options.pop("enforce_https", None)
            request.http_request.headers["Authorization"] = f"Bearer {token}"

    return StaticTokenPolicy()


def _quiet_sdk_logs() -> None:
    """azure-ai-ml logs progress notes ("Proceeding with no tenant id...") to stderr through
    handlers of its own; mlx reports what matters itself."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("azure"):
            logging.getLogger(name).setLevel(logging.ERROR)


def container_client(ml: Any, datastore: str, pacing: Pacing) -> Any:
    """A ``ContainerClient`` for ``datastore``'s container, with the datastore's own key or
    SAS token when it has one, else the user's credential (Storage Blob Data Reader)."""
    from azure.storage.blob import ContainerClient

    found = settings.endpoints()
    store = _datastore(ml, datastore)
    account_url = found.blob_endpoint or (
        f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    )
    return ContainerClient(
        account_url,
        store.container_name,
        credential=_storage_credential(store, found),
        retry_policy=_storage_retry(pacing),
    )


def _datastore(ml: Any, name: str) -> Any:
    """The datastore with its secrets, or without when listing them is not allowed (403)."""
    from azure.core.exceptions import HttpResponseError

    with azure_errors(f"datastores.get({name})"):
        try:
            return ml.datastores.get(name, include_secrets=True)
        except HttpResponseError as e:
            if e.status_code != 403:
                raise
            return ml.datastores.get(name)


def _storage_credential(store: Any, found: Endpoints) -> Any:
    secret = store.credentials
    if getattr(secret, "account_key", None):
        return {"account_name": store.account_name, "account_key": secret.account_key}
    if getattr(secret, "sas_token", None):
        return secret.sas_token
    return credential(found)


def _storage_retry(pacing: Pacing) -> Any:
    from azure.core.exceptions import HttpResponseError
    from azure.storage.blob import ExponentialRetry

    class _RaiseThrottled:
        """Turns a 429 answer into an error, which the storage retry policy retries."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def send(self, request: Any) -> Any:
            response = self.inner.send(request)
            if response.http_response.status_code == 429:
                raise HttpResponseError("429 Too Many Requests", response=response.http_response)
            return response

    class _ThrottledRetry(ExponentialRetry):
        # azure-storage-blob's is_retry() leaves 429 alone (azure/storage/blob/_shared/
        # policies.py); the pipeline sets `next` once, so the wrapper sits below the retry.
        @property
        def next(self) -> Any:
            return self._next

        @next.setter
        def next(self, policy: Any) -> None:
            self._next = _RaiseThrottled(policy)

    backoff = pacing.retry_initial  # waits backoff, +2, +4, ... seconds (times backoff)
    # The SDK annotates these as int; seconds as floats work (and tests need them short).
    return _ThrottledRetry(
        initial_backoff=backoff,  # type: ignore[arg-type]
        increment_base=2 * backoff,  # type: ignore[arg-type]
        random_jitter_range=backoff / 2,  # type: ignore[arg-type]
        retry_total=pacing.retry_attempts,  # as many as the jobs API (storage's default: 3)
    )
