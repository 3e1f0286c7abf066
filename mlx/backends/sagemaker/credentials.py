"""Where AWS credentials are found for ``mlx doctor``: botocore's own credential chain is
asked (the one boto3 uses), without any network call.

botocore's chain (``botocore.credentials.create_credential_resolver``) tries, in order:
env, assume-role, assume-role-with-web-identity, sso, shared-credentials-file, login,
custom-process, config-file, ec2-credentials-file, boto-config, container-role, iam-role
(https://docs.aws.amazon.com/boto3/latest/guide/credentials.html). The role providers
return deferred credentials (STS is called on first use, not on load); three providers
would act on load and are taken out of the chain: ``container-role`` and ``iam-role`` ask
an HTTP endpoint (the container agent, the EC2 instance metadata service) and
``custom-process`` runs the profile's ``credential_process`` program. Their settings are
reported instead, when present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

# Providers whose ``load`` makes a call (see above), by their ``METHOD`` name.
_ACTING_PROVIDERS = ("container-role", "iam-role", "custom-process")
# The container agent's variables (botocore.credentials.ContainerProvider).
_CONTAINER_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def find_credentials() -> Optional[str]:
    """Where botocore finds credentials (a short text), or None; None also when botocore
    is not installed (``mlx doctor`` says the SDK is missing)."""
    try:
        import botocore.exceptions
        import botocore.session
    except ImportError:
        return None
    session = botocore.session.Session()
    try:
        resolver = session.get_component("credential_provider")
        for name in _ACTING_PROVIDERS:
            if name in [p.METHOD for p in resolver.providers]:
                resolver.remove(name)
        credentials = session.get_credentials()
        if credentials is not None:
            return _source(session, credentials.method)
        return _acting_source(session)
    except botocore.exceptions.BotoCoreError:  # an unknown AWS_PROFILE, a broken file
        return None


def _source(session: Any, method: str) -> str:
    """``method`` (``Credentials.method``) as a user recognises it: the file, the variable
    or the kind of login."""
    if method == "env":
        return "AWS_ACCESS_KEY_ID"
    if method == "shared-credentials-file":
        return str(Path(session.get_config_variable("credentials_file")).expanduser())
    if method == "config-file":
        return str(Path(session.get_config_variable("config_file")).expanduser())
    return f"{method} (profile {session.profile or 'default'})"


def _acting_source(session: Any) -> Optional[str]:
    """The settings of the providers that were not run: a container's credentials endpoint
    or the profile's ``credential_process``. (The EC2 instance role cannot be seen without
    asking the metadata service.)"""
    import os

    for variable in _CONTAINER_VARIABLES:
        if os.environ.get(variable):
            return f"container credentials ({variable})"
    if session.get_scoped_config().get("credential_process"):
        return f"credential_process (profile {session.profile or 'default'})"
    return None
