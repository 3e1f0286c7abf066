"""The SageMaker provider's descriptor, and where AWS credentials are found (no network)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from mlx.cloud.pacing import Pacing
from mlx.providers import Capability, Machines, Provider

PROVIDER = Provider(
    name="sagemaker",
    title="SageMaker",
    backend="mlx.backends.sagemaker.backend:SageMakerBackend",
    extra="sagemaker",
    sdk_modules=("boto3",),
    settings="mlx.backends.sagemaker.settings:SageMakerSettings",
    runner="mlx.backends.sagemaker.runner:SageMakerRunner",
    # No call is made: any valid names serve (the account is SageMaker's documentation one).
    rehearsal_settings=(
        ("role", "arn:aws:iam::123456789012:role/mlx-rehearsal"),
        ("bucket", "mlx-rehearsal"),
        ("region", "us-east-1"),
    ),
    credentials="mlx.backends.sagemaker.provider:find_credentials",
    login_hint="aws configure (or set AWS_PROFILE)",
    rank=10,
    uri_schemes=("s3",),
    capabilities=frozenset({Capability.TUNING, Capability.ADOPT, Capability.NEEDS_IMAGE}),
    machines=Machines(catalog="mlx.catalog:data/sagemaker.csv", instance_prefix="ml."),
    pacing=Pacing(
        poll=2.0,
        log_poll=2.0,
        log_max_poll=10.0,
        log_hold=2.0,
        log_overlap=30.0,
        # CloudWatch shows a line seconds after it was written: the read after the job
        # ended waits as long as a line is held back while it runs.
        log_drain=2.0,
        create_attempts=3,
    ),
)


# The settings through which botocore's credential chain gets keys from these files
# (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html).
_CREDENTIAL_SETTINGS = ("aws_access_key_id", "credential_process", "sso_", "role_arn")


def _holds_credentials(path: Path) -> bool:
    """A file that exists but names no credentials (an empty one) finds none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").lower()
    except OSError:
        return False
    return any(setting in text for setting in _CREDENTIAL_SETTINGS)


def find_credentials() -> Optional[str]:
    """Where boto3's default chain would find credentials, from variables and files."""
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return "AWS_ACCESS_KEY_ID"
    if os.environ.get("AWS_PROFILE"):
        return f"AWS_PROFILE={os.environ['AWS_PROFILE']}"
    for path in (
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE"),
        "~/.aws/credentials",
        os.environ.get("AWS_CONFIG_FILE"),
        "~/.aws/config",
    ):
        if path and _holds_credentials(Path(path).expanduser()):
            return str(Path(path).expanduser())
    if os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        return "container credentials"
    return None
