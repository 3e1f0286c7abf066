"""`mlx doctor` asks each SDK's own credential chain (issue #17, item 7), and never the
network: a socket that connects anywhere fails the test."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write

CLEARED = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_USERNAME", "AZURE_PASSWORD",
)  # fmt: skip


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """No credentials anywhere, every config folder empty, and no socket may connect."""
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure"))
    attempts: list[Any] = []

    def refuse(sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("mlx doctor must not connect anywhere")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def found(mlx: Any) -> dict[str, Any]:
    result = mlx("doctor", "--json")
    assert result.exit_code == 0, result.stderr
    providers = json.loads(result.stdout)["providers"]
    return {name: providers[name]["credentials"] for name in ("sagemaker", "vertex", "azure")}


def test_nothing_configured_finds_nothing_and_connects_nowhere(mlx: Any, offline: list) -> None:
    assert found(mlx) == {"sagemaker": None, "vertex": None, "azure": None}
    assert offline == []  # the EC2/GCE metadata servers were not asked


def test_aws_answers_come_from_botocore(mlx: Any, offline: list, monkeypatch, tmp_path) -> None:
    # A profile that does not exist, and a key without its secret, are no credentials
    # (the file-guessing doctor said "found" for both).
    monkeypatch.setenv("AWS_PROFILE", "nowhere")
    assert found(mlx)["sagemaker"] is None
    monkeypatch.delenv("AWS_PROFILE")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    assert found(mlx)["sagemaker"] is None
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert found(mlx)["sagemaker"] == "AWS_ACCESS_KEY_ID"
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    # An SSO profile: botocore's deferred credentials, no call to the SSO portal.
    write(
        tmp_path / "aws-config",
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n"
        "sso_role_name = Admin\n[sso-session corp]\nsso_region = us-east-1\n"
        "sso_start_url = https://example.awsapps.com/start\n",
    )
    monkeypatch.setenv("AWS_PROFILE", "dev")
    assert found(mlx)["sagemaker"] == "sso (profile dev)"
    assert offline == []


def test_google_answers_come_from_google_auth(
    mlx: Any, offline: list, monkeypatch, tmp_path
) -> None:
    key = write(tmp_path / "key.json", "{}")  # exists, but is no credential
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    assert found(mlx)["vertex"] is None
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    adc = write(
        tmp_path / "gcloud" / "application_default_credentials.json",
        json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "s",
                    "refresh_token": "r"}),
    )  # fmt: skip
    assert found(mlx)["vertex"] == f"user login ({adc})"
    assert offline == []


def test_azure_answers_follow_azure_identity(mlx: Any, offline: list, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_ID", "app")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "secret")
    # EnvironmentCredential needs the tenant too: without it, nothing is configured.
    assert found(mlx)["azure"] is None
    monkeypatch.setenv("AZURE_TENANT_ID", "tenant")
    assert found(mlx)["azure"] == "EnvironmentCredential (client secret: AZURE_CLIENT_ID)"
    assert offline == []


def test_doctor_table_says_when_the_sdk_is_needed_to_check(
    mlx: Any, offline: list, monkeypatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def without_boto3(name: str, *args: Any) -> Any:
        return None if name == "boto3" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_boto3)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    shown = mlx("doctor").stdout
    # 80 columns: the row wraps; what matters is that nothing was guessed without the SDK.
    assert "- (checked once the SDK is" in shown and "AWS_ACCESS_KEY_ID" not in shown
