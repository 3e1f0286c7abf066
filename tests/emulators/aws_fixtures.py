"""pytest fixtures for the AWS test server (``tests/emulators/aws.py``).

Load with ``pytest_plugins = ["tests.emulators.aws_fixtures"]`` in ``tests/conftest.py``.

- ``aws_server`` (session): one ``AwsServer`` on 127.0.0.1; sets nothing global.
- ``aws`` (function): the same server, reset (no resources, faults, recorded requests or
  changed settings), with this test's environment pointing boto3 at it only.

Retries. botocore retries 500/502/503/504 and throttling errors with exponential backoff
(legacy mode, the default: 5 attempts, up to ~15 s of sleeping; standard mode: 3 attempts,
up to ~3 s). Under ``aws`` every client gets ``AWS_RETRY_MODE=standard`` and
``AWS_MAX_ATTEMPTS=3`` from the environment (a ``Config(retries=...)`` passed by the code
under test wins) and botocore's backoff sleeps are 100 times shorter, so retry behaviour
is real but a retried call costs milliseconds. Adaptive mode's client-side rate limiter
is not shortened. The server answers moto's unimplemented actions with 501, which is
never retried.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.aws import AwsServer

# Settings that would let the machine's AWS setup leak into a test.
_LEAKY = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CA_BUNDLE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
)


@pytest.fixture(scope="session")
def aws_server() -> Iterator[AwsServer]:
    server = AwsServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(aws_server: AwsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AwsServer:
    """The AWS test server, reset, with AWS_ENDPOINT_URL and test credentials set."""
    aws_server.reset()
    point_boto3_at(aws_server.url, monkeypatch, tmp_path)
    fast_botocore_retries(monkeypatch)
    return aws_server


def point_boto3_at(url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Send every boto3 client of this test to ``url``, with nothing from the machine."""
    for name in list(os.environ):
        if name in _LEAKY or name.startswith("AWS_ENDPOINT_URL_"):
            monkeypatch.delenv(name)
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text("")
    credentials.write_text("")
    for name, value in {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "3",
    }.items():
        monkeypatch.setenv(name, value)
    # boto3's default session caches credentials and config from its first use: give the
    # test a new one, sharing the (environment-free) service models already loaded.
    monkeypatch.setattr("boto3.DEFAULT_SESSION", _new_session())


@functools.cache
def _model_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


def _new_session() -> Any:
    import boto3
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", _model_loader())  # 0.3 s per service saved
    return boto3.session.Session(botocore_session=session)


def fast_botocore_retries(monkeypatch: pytest.MonkeyPatch, scale: float = 0.01) -> None:
    """Keep botocore's retry decisions, shrink its backoff sleeps by ``scale``.

    Applies to clients created afterwards (legacy mode binds its delay function then).
    """
    from botocore import retryhandler
    from botocore.retries import standard

    backoff = standard.ExponentialBackoff.delay_amount
    legacy = retryhandler.delay_exponential
    monkeypatch.setattr(
        standard.ExponentialBackoff,
        "delay_amount",
        lambda self, context: backoff(self, context) * scale,
    )
    monkeypatch.setattr(
        retryhandler,
        "delay_exponential",
        lambda base, growth_factor, attempts: legacy(base, growth_factor, attempts) * scale,
    )
