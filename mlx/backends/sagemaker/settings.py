"""The `sagemaker:` block of a spec or the config file."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from pydantic import Field, field_validator

from mlx.spec_base import StrictModel, valid_duration

if TYPE_CHECKING:
    from mlx.spec import JobSpec


class SageMakerSettings(StrictModel):
    """The spec's (and the config file's) `sagemaker:` block."""

    role: Optional[str] = Field(None, description="execution role ARN")
    region: Optional[str] = None
    bucket: Optional[str] = Field(None, description="bucket for code, inputs and artifacts")
    profile: Optional[str] = Field(None, description="AWS profile name")
    prefix: str = Field("mlx", description="key prefix in the bucket: s3://bucket/<prefix>/<job>/")
    subnets: list[str] = Field(default_factory=list, description="VPC subnets for the job")
    security_group_ids: list[str] = Field(default_factory=list, description="with `subnets`")
    kms_key_id: Optional[str] = Field(None, description="KMS key for output and volumes")
    image_access: Literal["ecr", "vpc"] = Field(
        "ecr",
        description="where training jobs pull `image` from: Amazon ECR, or (vpc) a private "
        "registry reached through the job's VPC (`subnets`)",
    )
    image_credentials: Optional[str] = Field(
        None, description="image_access vpc: ARN of the Lambda that gives the registry login"
    )
    max_wait: Optional[Union[int, str]] = Field(
        None, description="spot only: how long to wait for capacity plus run (default 2x)"
    )
    max_attempts: int = Field(6, ge=1, le=20, description="attempts per AWS call (retries)")
    endpoints: dict[Literal["sagemaker", "s3", "logs"], str] = Field(
        default_factory=dict, description="endpoint URLs (private endpoints, GovCloud)"
    )

    @field_validator("max_wait")
    @classmethod
    def _check_max_wait(cls, value: Any) -> Any:
        return valid_duration(value)

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        value = value.strip("/")
        if not value or not re.fullmatch(r"[A-Za-z0-9!_.*'()/-]+", value):
            raise ValueError("a key prefix such as mlx or teams/vision/mlx")
        return value


def settings_of(spec: JobSpec) -> SageMakerSettings:
    """The spec's `sagemaker:` block, typed."""
    found = spec.provider_settings("sagemaker")
    return found if isinstance(found, SageMakerSettings) else SageMakerSettings()
