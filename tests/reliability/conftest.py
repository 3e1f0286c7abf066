"""Reliability tests reuse each backend's test fixtures: the servers, fast polling, short
backoffs (imported here so pytest finds them outside ``tests/backends``)."""

from tests.backends.azure.conftest import azure, proxied
from tests.backends.sagemaker.conftest import sm
from tests.backends.vertex.conftest import gcp

__all__ = ["azure", "gcp", "proxied", "sm"]
