"""pytest fixtures for the Google Cloud test servers (load with ``pytest_plugins``).

Servers start once per session; the function-scoped fixtures (``vertex``,
``cloud_logging``, ``gcs``) empty them, clear their fault plans and point the
environment at them, so every test starts from nothing:

- ``MLX_VERTEX_ENDPOINT``: ``http://127.0.0.1:PORT``, the JobService REST api_endpoint.
- ``MLX_LOGGING_ENDPOINT``: ``http://127.0.0.1:PORT``; ``http://`` means plaintext gRPC
  (``grpc.insecure_channel("127.0.0.1:PORT")``), as no real endpoint is plaintext.
- ``STORAGE_EMULATOR_HOST``: read by google-cloud-storage itself.
- ``GOOGLE_CLOUD_PROJECT=test-project``, and no way to find real credentials: no
  ``GOOGLE_APPLICATION_CREDENTIALS``, an empty gcloud config dir, a closed metadata port.

``vertex_runs`` makes the Vertex server run the jobs it creates (``vertex_runs.VertexRuns``):
the containers mlx asked for, in the sandbox, their lines in the Cloud Logging server and
their files in the GCS emulator; every run is stopped when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulators.cloud_logging import LoggingServer
from tests.emulators.gcs import GcsEmulator
from tests.emulators.vertex import VertexServer
from tests.emulators.vertex_runs import VertexRuns

PROJECT = "test-project"
LOCATION = "us-central1"


@pytest.fixture(scope="session")
def vertex_server() -> Iterator[VertexServer]:
    server = VertexServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cloud_logging_server() -> Iterator[LoggingServer]:
    server = LoggingServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GcsEmulator]:
    server = GcsEmulator().start()
    yield server
    server.stop()


@pytest.fixture
def gcp_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A project, and no credentials or metadata server from this machine."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("GCLOUD_PROJECT", raising=False)
    gcloud_dir = tmp_path / "gcloud-config"
    gcloud_dir.mkdir()
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud_dir))
    # google.auth.default() probes the GCE metadata server last: make that fail at once.
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("NO_GCE_CHECK", "true")
    # requests and gRPC honour proxy variables: keep 127.0.0.1 traffic direct.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


@pytest.fixture
def vertex(
    vertex_server: VertexServer, gcp_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[VertexServer]:
    vertex_server.reset()
    monkeypatch.setenv("MLX_VERTEX_ENDPOINT", vertex_server.url)
    yield vertex_server
    vertex_server.reset()


@pytest.fixture
def cloud_logging(
    cloud_logging_server: LoggingServer, gcp_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LoggingServer]:
    cloud_logging_server.reset()
    monkeypatch.setenv("MLX_LOGGING_ENDPOINT", f"http://{cloud_logging_server.address}")
    yield cloud_logging_server
    cloud_logging_server.reset()


@pytest.fixture
def gcs(
    gcs_server: GcsEmulator, gcp_env: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GcsEmulator]:
    gcs_server.reset()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    yield gcs_server
    gcs_server.reset()


@pytest.fixture
def vertex_runs(
    vertex: VertexServer, cloud_logging: LoggingServer, gcs: GcsEmulator, tmp_path: Path
) -> Iterator[VertexRuns]:
    runs = VertexRuns(vertex, cloud_logging, tmp_path / "vertex-runs", PROJECT).attach()
    yield runs
    runs.stop()
