"""Pytest fixtures for the Azure test servers (loaded by tests/conftest.py via pytest_plugins).

Session-scoped ``azurite_server`` and ``azureml_server`` start once; the function-scoped
``azurite`` and ``azureml`` give each test an empty account / a fresh workspace and set
the environment an mlx Azure backend reads (see ``azureml_env``), after removing every
Azure credential setting of this machine so nothing real is ever used.

Azure SDKs are imported inside functions: this plugin loads in every test session.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.emulators.azureml import TEST_TOKEN, AzureMLServer
from tests.emulators.azurite import AzuriteServer, AzuriteUnavailable
from tests.emulators.proxy import FaultProxy

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

# Settings that would make the SDKs pick up real credentials, clouds or endpoints.
_MACHINE_ENV = (
    "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_SUBSCRIPTION_ID",
    "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
    "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    # azure-ai-ml: MLClient writes AZUREML_CURRENT_CLOUD into os.environ; deleting it here
    # makes monkeypatch remove it again after the test. The other two redirect ARM calls.
    "AZUREML_CURRENT_CLOUD", "ARM_CLOUD_METADATA_URL", "AZUREML_DEV_URL_MFE",
)  # fmt: skip


def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in _MACHINE_ENV:
        monkeypatch.delenv(name, raising=False)
    # The az CLI's token cache (AzureCliCredential) lives here: point it at nothing.
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure-config"))


def azureml_env(server: AzureMLServer) -> dict[str, str]:
    """The settings an mlx Azure backend reads to reach ``server`` (proposed names)."""
    return {
        "MLX_AZURE_ARM_ENDPOINT": server.url,  # resource manager; http => static-token policy
        "MLX_AZURE_CLOUD": server.cloud_name,
        "MLX_AZURE_CLOUD_METADATA": json.dumps(server.cloud_metadata),
        "MLX_AZURE_ACCESS_TOKEN": TEST_TOKEN,  # a bearer token used instead of azure-identity
        "MLX_AZURE_BLOB_ENDPOINT": server.azurite.url,  # account URL for datastore blobs
        "MLX_AZURE_SUBSCRIPTION_ID": server.subscription_id,
        "MLX_AZURE_RESOURCE_GROUP": server.resource_group,
        "MLX_AZURE_WORKSPACE": server.workspace,
    }


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[AzuriteServer]:
    """Azurite, installed from npm on first use, running for the whole session."""
    try:
        server = AzuriteServer().start()
    except AzuriteUnavailable as e:
        pytest.skip(f"Azurite is unavailable: {e}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azureml_server(azurite_server: AzuriteServer) -> Iterator[AzureMLServer]:
    server = AzureMLServer(azurite_server).start()
    yield server
    server.stop()


@pytest.fixture
def azurite(
    azurite_server: AzuriteServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> AzuriteServer:
    """Azurite with no containers; AZURE_STORAGE_CONNECTION_STRING points at it."""
    azurite_server.delete_all_containers()
    _isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_server.connection_string)
    monkeypatch.setenv("MLX_AZURE_BLOB_ENDPOINT", azurite_server.url)
    return azurite_server


@pytest.fixture
def azureml(
    azureml_server: AzureMLServer, azurite: AzuriteServer, monkeypatch: pytest.MonkeyPatch
) -> AzureMLServer:
    """A fresh workspace (no jobs, requests or faults) and the MLX_AZURE_* settings for it."""
    azureml_server.reset()
    for name, value in azureml_env(azureml_server).items():
        monkeypatch.setenv(name, value)
    return azureml_server


@pytest.fixture
def azurite_proxy(azurite: AzuriteServer) -> Iterator[FaultProxy]:
    """A FaultProxy in front of Azurite. The account URL through it is ``proxy.url +
    "/devstoreaccount1"``; operations are ``"METHOD /devstoreaccount1/<container>/..."``."""
    with FaultProxy(f"http://127.0.0.1:{azurite.port}") as proxy:
        yield proxy


class StaticCredential:
    """A TokenCredential that never leaves the process (the server checks no signature)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(TEST_TOKEN, int(time.time()) + 3600)


def azureml_client(server: AzureMLServer, **overrides: Any) -> MLClient:
    """A real ``MLClient`` pointed at ``server``, telemetry off, retries without waiting."""
    from azure.ai.ml import MLClient

    # retry_backoff_factor reaches azure-core's RetryPolicy in every service client.
    options: dict[str, Any] = {**server.client_kwargs(), "retry_backoff_factor": 0.01}
    return MLClient(
        StaticCredential(),
        server.subscription_id,
        server.resource_group,
        server.workspace,
        **{**options, **overrides},
    )


@pytest.fixture
def ml_client(azureml: AzureMLServer) -> MLClient:
    return azureml_client(azureml)
