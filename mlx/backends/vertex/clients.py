"""Google Cloud clients for one project and location, retries, and errors at the edge.

- JobService: ``google.cloud.aiplatform_v1`` over REST (about 1 s to import; the
  ``google.cloud.aiplatform`` SDK takes 2.5 s and is never imported). Its methods have no
  default retry, so every call passes ``Backoff.retry()``: 429, 5xx and dropped
  connections (over REST those raise ``requests.exceptions.ConnectionError``).
- Cloud Logging: the GAPIC ``LoggingServiceV2Client`` over gRPC. Its ``ListLogEntries``
  default retry misses RESOURCE_EXHAUSTED (the 60-reads-a-minute quota): ours has it.
- Cloud Storage: ``google.cloud.storage`` with its own retry, delays from ``Backoff``.

Clients are created on first use; an ``http://`` endpoint (a local test server) gets
anonymous credentials, anything else Application Default Credentials.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

from mlx.backends.vertex.settings import (
    Target,
    is_plaintext,
    logging_endpoint,
    vertex_endpoint,
)
from mlx.errors import BackendError, BackendUnavailable, JobNotFound

CREDENTIALS_HINT = "Run `gcloud auth application-default login`"
_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# Environment variables that pick an endpoint or a credential (part of a client's cache key).
ENVIRONMENT = ("MLX_VERTEX_", "MLX_LOGGING_", "STORAGE_EMULATOR_HOST", "GOOGLE_", "CLOUDSDK_")


@dataclass(frozen=True)
class Backoff:
    """Retry delays (seconds); tests make them short."""

    initial: float = 1.0
    maximum: float = 30.0
    timeout: float = 120.0

    def retry(self) -> Any:
        """A ``google.api_core`` Retry for idempotent calls (get, list, cancel, logs)."""
        from google.api_core.retry import Retry, if_exception_type

        return Retry(
            predicate=if_exception_type(*transient_errors()),  # type: ignore[arg-type]
            initial=self.initial,
            maximum=self.maximum,
            multiplier=2.0,
            timeout=self.timeout,
        )

    def storage_retry(self) -> Any:
        from google.cloud.storage.retry import DEFAULT_RETRY

        return DEFAULT_RETRY.with_delay(initial=self.initial, maximum=self.maximum).with_timeout(
            self.timeout
        )


def transient_errors() -> tuple[type[BaseException], ...]:
    """Answers worth trying again: throttling (429 / RESOURCE_EXHAUSTED), 5xx, timeouts,
    and connections dropped before an answer."""
    import requests
    from google.api_core import exceptions

    return (
        exceptions.TooManyRequests,  # ResourceExhausted is one
        exceptions.ServiceUnavailable,
        exceptions.InternalServerError,
        exceptions.GatewayTimeout,  # DeadlineExceeded is one
        # A connection dropped before or during the answer, or no answer in time.
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.Timeout,
    )


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is one of ``transient_errors``: the answer may have been lost, so a
    create that raised it may have happened."""
    return isinstance(error, transient_errors())


class Clients:
    """Lazily created clients for ``target``; cheap to construct."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._lock = threading.Lock()

    def _credentials(self, endpoint: str) -> Any:
        if is_plaintext(endpoint):
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        return default_credentials()

    @functools.cached_property
    def jobs(self) -> Any:
        from google.cloud.aiplatform_v1 import JobServiceClient

        endpoint = vertex_endpoint(self.target.location)
        with gcp_errors("connecting to Vertex AI"):
            return JobServiceClient(
                transport="rest",
                client_options={"api_endpoint": endpoint.removeprefix("https://")},
                credentials=self._credentials(endpoint),
            )

    @functools.cached_property
    def logging(self) -> Any:
        from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client

        endpoint = logging_endpoint()
        if is_plaintext(endpoint):
            import grpc
            from google.cloud.logging_v2.services.logging_service_v2.transports import (
                LoggingServiceV2GrpcTransport,
            )

            channel = grpc.insecure_channel(endpoint.removeprefix("http://"))
            return LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=channel))
        with gcp_errors("connecting to Cloud Logging"):
            return LoggingServiceV2Client(
                credentials=self._credentials(endpoint),
                client_options={"api_endpoint": endpoint.removeprefix("https://")},
            )

    @functools.cached_property
    def storage(self) -> Any:
        from google.cloud import storage

        with gcp_errors("connecting to Cloud Storage"):
            if os.environ.get("STORAGE_EMULATOR_HOST"):
                from google.auth.credentials import AnonymousCredentials

                credentials = AnonymousCredentials()
            else:
                credentials = default_credentials()
            client = storage.Client(project=self.target.project, credentials=credentials)
        return sized_pool(client)

    def bucket(self) -> Any:
        with self._lock:  # downloads run in threads: one client for all of them
            return self.storage.bucket(self.target.bucket)


@functools.lru_cache(maxsize=1)
def default_credentials() -> Any:
    import google.auth

    with gcp_errors("finding Google Cloud credentials"):
        credentials, _project = google.auth.default(scopes=list(_SCOPES))
    return credentials


@contextlib.contextmanager
def gcp_errors(what: str, *, missing: Optional[str] = None) -> Iterator[None]:
    """Turn Google client errors raised in the block into mlx errors naming ``what``.

    ``missing``: the message for a not-found answer (raised as ``JobNotFound``).
    """
    import requests
    from google.api_core import exceptions
    from google.auth import exceptions as auth

    try:
        yield
    except auth.DefaultCredentialsError as e:
        raise BackendUnavailable("no Google Cloud credentials found", hint=CREDENTIALS_HINT) from e
    except auth.RefreshError as e:
        raise BackendUnavailable(f"{what} failed: {e}", hint=CREDENTIALS_HINT) from e
    except exceptions.NotFound as e:
        if missing:
            raise JobNotFound(missing) from e
        raise BackendError(f"{what} failed: {describe(e)}") from e
    except exceptions.RetryError as e:
        cause = describe(e.cause) if e.cause is not None else str(e)
        raise BackendError(f"{what} failed after retrying: {cause}") from e
    except exceptions.GoogleAPICallError as e:
        raise BackendError(f"{what} failed: {describe(e)}", hint=_hint(e)) from e
    except requests.exceptions.ConnectionError as e:
        raise BackendError(f"{what} failed: the connection broke ({e.__class__.__name__})") from e


def describe(error: Any) -> str:
    """The error's message, with the fields a 400 names (google.rpc.BadRequest details)."""
    message = str(getattr(error, "message", None) or error).strip()
    fields = []
    for detail in getattr(error, "details", None) or []:
        if isinstance(detail, dict):
            fields += [v.get("field", "") for v in detail.get("fieldViolations", [])]
    shown = ", ".join(f for f in fields if f and f not in message)
    return f"{message} (fields: {shown})" if shown else message


def _hint(error: Any) -> Optional[str]:
    from google.api_core import exceptions

    if isinstance(error, (exceptions.PermissionDenied, exceptions.Unauthenticated)):
        roles = "Vertex AI User, Storage Object Admin"
        return f"Check the account's roles ({roles}). {CREDENTIALS_HINT}."
    if isinstance(error, exceptions.TooManyRequests):
        return "A quota was hit; retry later or ask for a higher quota."
    return None


def sized_pool(client: Any) -> Any:
    """``client`` (google-cloud-storage) keeping a connection for each of mlx's parallel
    transfers: its requests session pools 10 per host (``requests.adapters.DEFAULT_POOLSIZE``)
    and drops the connections beyond them after each use."""
    import requests.adapters

    from mlx.cloud import parts

    size = parts.concurrency() + 4  # the transfers, and listings beside them
    if size > requests.adapters.DEFAULT_POOLSIZE:
        session = client._http  # the AuthorizedSession it made
        for scheme in ("https://", "http://"):
            if type(session.get_adapter(scheme)) is not requests.adapters.HTTPAdapter:
                continue  # google-auth's own (mutual TLS): kept as it is
            adapter = requests.adapters.HTTPAdapter(pool_connections=size, pool_maxsize=size)
            session.mount(scheme, adapter)
    return client
