"""Where the Azure backend goes: the workspace, the cloud's endpoints, retry pacing.

Workspace settings come from the environment (``MLX_AZURE_SUBSCRIPTION_ID``,
``MLX_AZURE_RESOURCE_GROUP``, ``MLX_AZURE_WORKSPACE``, ``MLX_AZURE_COMPUTE``), else the spec's
``azure:`` block, which already holds the config file's defaults (CLI > env > spec > config).

Endpoints, for sovereign clouds, private endpoints and test servers alike:

- ``MLX_AZURE_CLOUD``: a cloud name azure-ai-ml knows (``AzureCloud``, ``AzureChinaCloud``,
  ``AzureUSGovernment``) or the name to give the custom cloud below;
- ``MLX_AZURE_CLOUD_METADATA``: that custom cloud's endpoints as JSON (the six keys of
  ``MLClient(cloud_metadata=...)``), or ``MLX_AZURE_ARM_ENDPOINT``: a resource manager URL
  that every one of them is set to;
- ``MLX_AZURE_BLOB_ENDPOINT``: the account URL for datastore blobs (artifacts and logs),
  instead of ``https://<account>.blob.<storage suffix>``;
- ``MLX_AZURE_ACCESS_TOKEN``: a bearer token used instead of ``DefaultAzureCredential``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Optional

from pydantic import Field

from mlx.errors import SpecError
from mlx.spec_base import StrictModel

if TYPE_CHECKING:
    from mlx.spec import JobSpec

_WORKSPACE_ENV = {
    "subscription_id": "MLX_AZURE_SUBSCRIPTION_ID",
    "resource_group": "MLX_AZURE_RESOURCE_GROUP",
    "workspace": "MLX_AZURE_WORKSPACE",
}
_CLOUD_KEYS = (
    "azure_portal",
    "resource_manager",
    "active_directory",
    "aml_resource_id",
    "registry_discovery_endpoint",
)


class AzureSettings(StrictModel):
    """The spec's (and the config file's) `azure:` block."""

    subscription_id: Optional[str] = None
    resource_group: Optional[str] = None
    workspace: Optional[str] = None
    compute: Optional[str] = Field(None, description="compute cluster name")
    datastore: str = Field("workspaceblobstore", description="where artifacts go: mlx/<job>/")
    input_mode: Literal["ro_mount", "download"] = Field(
        "ro_mount", description="how remote inputs reach the job"
    )
    early_termination: Literal["bandit", "median", "truncation"] = Field(
        "median", description="sweep policy when `tune.early_stopping` is on"
    )


def settings_of(spec: JobSpec) -> AzureSettings:
    """The spec's `azure:` block, typed."""
    found = spec.provider_settings("azure")
    return found if isinstance(found, AzureSettings) else AzureSettings()


@dataclass(frozen=True)
class Workspace:
    """One Azure ML workspace; recorded with each job as its ``location``."""

    subscription_id: str
    resource_group: str
    workspace: str

    def location(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_location(cls, location: dict[str, Any]) -> Workspace:
        return cls(location["subscription_id"], location["resource_group"], location["workspace"])


def _setting(spec_value: Optional[str], field: str, variable: str) -> str:
    value = os.environ.get(variable) or spec_value
    if not value:
        raise SpecError(
            f"`azure.{field}` is not set",
            hint=f"Set it under `azure:` in the spec or in ~/.config/mlx/config.yaml, "
            f"or export {variable}.",
        )
    return value


def workspace_for(settings: Any) -> Workspace:
    """The workspace a spec's ``azure:`` settings (``AzureSettings``) name."""
    values = {
        field: _setting(getattr(settings, field), field, variable)
        for field, variable in _WORKSPACE_ENV.items()
    }
    return Workspace(**values)


def compute_for(settings: Any) -> str:
    """The compute cluster jobs run on (its VM size is the cluster's)."""
    return _setting(settings.compute, "compute", "MLX_AZURE_COMPUTE")


@dataclass(frozen=True)
class Endpoints:
    cloud: Optional[str]
    cloud_metadata: Optional[dict[str, str]]
    access_token: Optional[str]
    blob_endpoint: Optional[str]


def endpoints() -> Endpoints:
    metadata = _cloud_metadata()
    cloud = os.environ.get("MLX_AZURE_CLOUD")
    if metadata and not cloud:
        # azure-ai-ml registers clouds process-wide by name, first definition wins: name a
        # custom cloud after its endpoints so two of them never collide.
        digest = hashlib.sha256(json.dumps(metadata, sort_keys=True).encode()).hexdigest()
        cloud = f"mlx-{digest[:12]}"
    return Endpoints(
        cloud=cloud,
        cloud_metadata=metadata,
        access_token=os.environ.get("MLX_AZURE_ACCESS_TOKEN") or None,
        blob_endpoint=(os.environ.get("MLX_AZURE_BLOB_ENDPOINT") or "").rstrip("/") or None,
    )


def _cloud_metadata() -> Optional[dict[str, str]]:
    text = os.environ.get("MLX_AZURE_CLOUD_METADATA")
    if text:
        try:
            metadata = json.loads(text)
        except ValueError as e:
            raise SpecError(f"MLX_AZURE_CLOUD_METADATA is not JSON: {e}") from None
        missing = [key for key in (*_CLOUD_KEYS, "storage_endpoint") if key not in metadata]
        if missing:
            raise SpecError(f"MLX_AZURE_CLOUD_METADATA lacks {', '.join(missing)}")
        return metadata
    arm = os.environ.get("MLX_AZURE_ARM_ENDPOINT")
    if not arm:
        return None
    metadata = dict.fromkeys(_CLOUD_KEYS, arm.rstrip("/") + "/")
    metadata["storage_endpoint"] = "core.windows.net"
    return metadata
