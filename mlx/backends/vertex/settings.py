"""Where a Vertex job goes: project, location, bucket, and the endpoints mlx talks to.

Settings come from the spec's ``vertex:`` block (or the config file's), the project also
from ``GOOGLE_CLOUD_PROJECT``. Endpoints are environment settings, for private endpoints
and the test servers alike:

- ``MLX_VERTEX_ENDPOINT``: the JobService REST endpoint (default
  ``https://<location>-aiplatform.googleapis.com``).
- ``MLX_LOGGING_ENDPOINT``: Cloud Logging's gRPC endpoint; ``http://host:port`` means a
  plaintext channel (only a local test server speaks plaintext).
- ``STORAGE_EMULATOR_HOST``: read by google-cloud-storage itself.

An ``http://`` endpoint is a local server: mlx sends it anonymous credentials.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from pydantic import Field

from mlx.errors import SpecError
from mlx.spec_base import StrictModel

if TYPE_CHECKING:
    from mlx.spec import JobSpec

SETTINGS_HINT = "Set it under `vertex:` in the spec or in ~/.config/mlx/config.yaml."
# Cloud Storage bucket names: 3-63 lower-case letters, digits, `-`, `_` and `.`.
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[0-9]+$")


class VertexSettings(StrictModel):
    """The spec's (and the config file's) `vertex:` block."""

    project: Optional[str] = None
    location: str = "us-central1"
    bucket: Optional[str] = Field(None, description="gs://bucket for code, inputs, artifacts")
    service_account: Optional[str] = None
    network: Optional[str] = None


@dataclass(frozen=True)
class Target:
    """One project and location, and the bucket jobs stage to and write under."""

    project: str
    location: str
    bucket: str
    service_account: Optional[str] = None
    network: Optional[str] = None

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def as_location(self) -> dict[str, str]:
        """What the store keeps (``JobRecord.location``) to reach the job again."""
        return {"project": self.project, "location": self.location, "bucket": self.bucket}


def settings_of(spec: JobSpec) -> VertexSettings:
    """The spec's `vertex:` block, typed."""
    found = spec.provider_settings("vertex")
    return found if isinstance(found, VertexSettings) else VertexSettings()


def target_for(spec: JobSpec) -> Target:
    settings = settings_of(spec)
    return Target(
        project=check_project(settings.project or os.environ.get("GOOGLE_CLOUD_PROJECT")),
        location=settings.location,
        bucket=check_bucket(settings.bucket),
        service_account=settings.service_account,
        network=settings.network,
    )


def target_of(location: dict[str, str]) -> Target:
    """The target a stored job (``JobRecord.location``) was submitted to."""
    return Target(location["project"], location["location"], location["bucket"])


def check_project(project: Optional[str]) -> str:
    if not project:
        raise SpecError(
            "`vertex.project` is required: the Google Cloud project the job runs in",
            hint=f"e.g. project: my-project (or set GOOGLE_CLOUD_PROJECT). {SETTINGS_HINT}",
        )
    if not PROJECT_RE.match(project):
        raise SpecError(
            f"`vertex.project` {project!r} is not a project id or number",
            hint="Project ids are 6-30 lower-case letters, digits and hyphens.",
        )
    return project


def check_bucket(bucket: Optional[str]) -> str:
    """The bucket's name (``gs://bucket`` and ``bucket`` are both accepted)."""
    if not bucket:
        raise SpecError(
            "`vertex.bucket` is required: mlx stages code and inputs and keeps artifacts there",
            hint=f"e.g. bucket: gs://my-ml-bucket. {SETTINGS_HINT}",
        )
    name = bucket[len("gs://") :] if bucket.startswith("gs://") else bucket
    name = name.rstrip("/")
    if not BUCKET_RE.match(name) or ".." in name:
        raise SpecError(
            f"`vertex.bucket` {bucket!r} is not a Cloud Storage bucket name",
            hint="3-63 lower-case letters, digits, `-`, `_` and `.`, e.g. gs://my-ml-bucket.",
        )
    return name


def vertex_endpoint(location: str) -> str:
    return os.environ.get("MLX_VERTEX_ENDPOINT") or f"https://{location}-aiplatform.googleapis.com"


def logging_endpoint() -> str:
    return os.environ.get("MLX_LOGGING_ENDPOINT") or "logging.googleapis.com"


def is_plaintext(endpoint: str) -> bool:
    return endpoint.startswith("http://")
