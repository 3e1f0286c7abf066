"""Where Azure credentials are found for ``mlx doctor``, without a network call.

``DefaultAzureCredential`` cannot be asked: it has no "is configured" question, and
``get_token`` tries each credential in turn over the network (managed identity probes
IMDS for seconds; https://learn.microsoft.com/python/api/azure-identity/azure.identity.
defaultazurecredential). mlx asks instead what the first credentials of that chain read
before they call anything, with azure-identity's own names for it:

- ``EnvironmentCredential`` and ``WorkloadIdentityCredential``: the variables of
  ``azure.identity._constants.EnvironmentVariables`` (``CLIENT_SECRET_VARS``,
  ``CERT_VARS``; ``AZURE_FEDERATED_TOKEN_FILE``), read in their constructors
  (azure/identity/_credentials/environment.py, workload_identity.py);
- ``AzureCliCredential``: the ``az`` program on PATH (``shutil.which``, as
  azure/identity/_credentials/azure_cli.py does before it runs ``az account
  get-access-token``) and a login in the CLI's config folder (``AZURE_CONFIG_DIR``,
  default ``~/.azure``: https://learn.microsoft.com/cli/azure/azure-cli-configuration).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

# Files the Azure CLI keeps a login in (MSAL's token cache; the account list).
_CLI_LOGIN_FILES = ("msal_token_cache.json", "msal_token_cache.bin", "azureProfile.json")


def find_credentials() -> Optional[str]:
    """Which credential of the default chain would answer (a short text), or None; None
    also without azure-identity installed (``mlx doctor`` says the SDK is missing)."""
    try:
        from azure.identity._constants import EnvironmentVariables as Variables
    except ImportError:
        return None
    if _all_set(Variables.CLIENT_SECRET_VARS):
        return "EnvironmentCredential (client secret: AZURE_CLIENT_ID)"
    if _all_set(Variables.CERT_VARS):
        return "EnvironmentCredential (certificate: AZURE_CLIENT_CERTIFICATE_PATH)"
    workload = (Variables.AZURE_FEDERATED_TOKEN_FILE, "AZURE_CLIENT_ID", "AZURE_TENANT_ID")
    if _all_set(workload):
        return "WorkloadIdentityCredential (AZURE_FEDERATED_TOKEN_FILE)"
    return _cli_login()


def _all_set(names: tuple[str, ...]) -> bool:
    return all(os.environ.get(name) for name in names)


def _cli_login() -> Optional[str]:
    if shutil.which("az") is None:
        return None
    folder = Path(os.environ.get("AZURE_CONFIG_DIR") or "~/.azure").expanduser()
    if any((folder / name).is_file() for name in _CLI_LOGIN_FILES):
        return f"AzureCliCredential (az login, {folder})"
    return None
