"""boto3 clients for one account and region, and AWS errors turned into mlx's at the edge.

Endpoints: boto3 itself honours ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``;
``sagemaker.endpoints`` in the spec (or the config file) wins for private endpoints,
GovCloud or a test server. Retries: botocore's standard mode, which backs off throttling
and 5xx answers with jittered exponential delays; ``sagemaker.max_attempts`` counts the
first attempt too (``total_max_attempts``; botocore's ``max_attempts`` counts retries only).
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Iterator
from typing import Any, Optional

from mlx.errors import BackendError, BackendUnavailable, JobNotFound, MlxError

CREDENTIALS_HINT = "Run `aws configure` or set AWS_PROFILE"
# Errors that say "no such job" in SageMaker's words (Describe* answers ValidationException
# "Requested resource not found" for training jobs, ResourceNotFound for tuning jobs).
_NOT_FOUND = ("ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "404")
# Transport failures after which a create call may or may not have reached SageMaker.
TRANSPORT_ERRORS = ("ReadTimeoutError", "ConnectionClosedError", "EndpointConnectionError")
# A create answered so after botocore retried it: the first try had reached SageMaker.
_IN_USE = ("ResourceInUse", "ResourceInUseException")


class AwsClients:
    """Lazily created clients for ``region`` (and ``profile``); cheap to construct."""

    def __init__(
        self,
        region: Optional[str],
        profile: Optional[str] = None,
        endpoints: Optional[dict[str, str]] = None,
        max_attempts: int = 6,
    ) -> None:
        self._region = region
        self.profile = profile
        self.endpoints = dict(endpoints or {})
        self.max_attempts = max_attempts
        self._lock = threading.Lock()

    @functools.cached_property
    def session(self) -> Any:
        import boto3
        from botocore.exceptions import ProfileNotFound

        if not self.profile:
            # The default session shares its loaded service models between clients.
            if boto3.DEFAULT_SESSION is None:
                boto3.setup_default_session()
            return boto3.DEFAULT_SESSION
        try:
            return boto3.session.Session(profile_name=self.profile)
        except ProfileNotFound as e:
            raise BackendUnavailable(
                f"AWS profile {self.profile!r} (sagemaker.profile) is not configured",
                hint=CREDENTIALS_HINT,
            ) from e

    @functools.cached_property
    def region(self) -> str:
        region = self._region or self.session.region_name
        if not region:
            raise BackendUnavailable(
                "no AWS region for SageMaker",
                hint="Set `sagemaker.region` in the spec or ~/.config/mlx/config.yaml, "
                "or AWS_DEFAULT_REGION.",
            )
        return region

    def client(self, service: str) -> Any:
        from botocore.config import Config

        from mlx.cloud import parts

        config = Config(
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            connect_timeout=10,
            read_timeout=60,
            # Parallel transfers share the S3 client: a connection for each, and some for
            # the calls beside them (botocore's default pool is 10: Config's
            # max_pool_connections, "If this value is not set, the default value of 10").
            max_pool_connections=max(16, parts.concurrency() + 4),
        )
        with self._lock:  # creating clients from one session is not thread-safe
            return self.session.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoints.get(service),
                config=config,
            )

    @functools.cached_property
    def sagemaker(self) -> Any:
        return self.client("sagemaker")

    @functools.cached_property
    def s3(self) -> Any:
        return self.client("s3")

    @functools.cached_property
    def logs(self) -> Any:
        return parse_events_quickly(self.client("logs"))


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_lost_answer(error: BaseException) -> bool:
    """Whether a create that raised ``error`` may have reached SageMaker anyway."""
    from botocore.exceptions import BotoCoreError

    return isinstance(error, BotoCoreError) and type(error).__name__ in TRANSPORT_ERRORS


def is_in_use(error: BaseException) -> bool:
    """Whether ``error`` says a job of that name exists (a retried create had arrived)."""
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and error_code(error) in _IN_USE


def is_not_found(error: BaseException) -> bool:
    code = error_code(error)
    message = str(getattr(error, "response", {}).get("Error", {}).get("Message", "")).lower()
    missing = "not found" in message or "could not find" in message
    return code in _NOT_FOUND or (code == "ValidationException" and missing)


@contextlib.contextmanager
def aws_errors(what: str, *, missing: Optional[str] = None) -> Iterator[None]:
    """Turn botocore's exceptions raised in the block into mlx errors naming ``what``.

    ``missing``: the message for a not-found answer (raised as ``JobNotFound``).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as e:
        raise as_mlx_error(e, what, missing=missing) from e


def as_mlx_error(error: Exception, what: str, *, missing: Optional[str] = None) -> MlxError:
    """The mlx error for a botocore exception raised by ``what``."""
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return BackendUnavailable("no AWS credentials found", hint=CREDENTIALS_HINT)
    if isinstance(error, ClientError):
        if missing and is_not_found(error):
            return JobNotFound(missing)
        return BackendError(f"{what} failed: {_describe(error)}", hint=_hint(error))
    return BackendError(f"{what} failed: {error}")


def _describe(error: Any) -> str:
    info = error.response.get("Error", {})
    return f"{info.get('Code', 'Error')}: {info.get('Message', '')}".rstrip(": ")


def _hint(error: Any) -> Optional[str]:
    code = error_code(error)
    if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException"):
        return f"Check the credentials and their permissions. {CREDENTIALS_HINT}."
    if code in ("ThrottlingException", "SlowDown", "ResourceLimitExceeded"):
        return "A quota or rate limit was hit; retry later or ask AWS for a higher quota."
    return None


def parse_events_quickly(client: Any) -> Any:
    """Parse ``client``'s FilterLogEvents answers with ``json.loads``.

    botocore's generic response parser costs about 13 µs per event (five fields each), more
    than everything else mlx does with a line; the answer's shape holds only strings and
    integers, which JSON gives as they are. Uses botocore's ``before-parse`` hook: what the
    handler puts in ``customized_response_dict`` is merged into the parsed answer.
    """
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(
        f"before-parse.{service}.FilterLogEvents", _raw_json, unique_id="mlx-raw-json"
    )
    return client


def _raw_json(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any):
    if response_dict.get("status_code") != 200:
        return  # errors go through botocore's parser, which knows their shapes
    try:
        parsed = json.loads(response_dict["body"])
    except ValueError as e:  # cut off or corrupted in transit (UnicodeDecodeError is one)
        # botocore's own parser raises a bare UnicodeDecodeError on such a body.
        raise BackendError(
            f"reading the job's logs (CloudWatch FilterLogEvents) failed: the answer was "
            f"cut off or corrupted in transit ({type(e).__name__})",
            hint="Run the command again.",
        ) from e
    if not isinstance(parsed, dict):
        raise BackendError(
            "reading the job's logs (CloudWatch FilterLogEvents) failed: "
            "the answer is not a JSON object"
        )
    customized_response_dict.update(parsed)
    response_dict["body"] = b"{}"
