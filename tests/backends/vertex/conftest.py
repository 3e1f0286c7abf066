"""Vertex backend tests: the Google Cloud test servers, fast polling, and helpers that
play a job's part (state, log entries, artifacts) the way Vertex would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import write
from tests.emulators.cloud_logging import LoggingServer
from tests.emulators.gcs import GcsEmulator
from tests.emulators.vertex import VertexServer

BUCKET = "mlx-test"
PROJECT = "test-project"
IMAGE = "us-docker.pkg.dev/test-project/train/trainer:1"
SETTINGS = {"project": PROJECT, "location": "us-central1", "bucket": f"gs://{BUCKET}"}
TRIAL_LABEL = "ml.googleapis.com/trial_id"


class Gcp:
    """The three servers, and what a test does with them."""

    def __init__(self, vertex: VertexServer, logging: LoggingServer, gcs: GcsEmulator) -> None:
        self.vertex, self.logging, self.gcs = vertex, logging, gcs

    def storage(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project=PROJECT, credentials=AnonymousCredentials())

    def put_object(self, key: str, body: bytes) -> None:
        self.storage().bucket(BUCKET).blob(key).upload_from_string(body)

    def objects(self, prefix: str = "") -> list[str]:
        """Object names in lexicographic order, as Cloud Storage lists them (older
        gcp-storage-emulator releases list in insertion order)."""
        return sorted(b.name for b in self.storage().list_blobs(BUCKET, prefix=prefix))

    def wait_for_job(self, rpc: str = "CreateCustomJob", index: int = 0) -> tuple[str, Any]:
        """(numeric id, job) of the ``index``-th job created through ``rpc``."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if len(self.vertex.requests(rpc)) > index:
                ids = sorted(self.vertex.jobs, key=int)
                kind = "customJobs" if "Custom" in rpc else "hyperparameterTuningJobs"
                mine = [i for i in ids if f"/{kind}/" in self.vertex.jobs[i].name]
                if len(mine) > index:
                    return mine[index], self.vertex.jobs[mine[index]]
            time.sleep(0.01)
        raise AssertionError(f"no {rpc} #{index} within 20 s")

    def log_lines(
        self, job: str, task: str, texts: list[str], start: datetime, **labels: str
    ) -> None:
        """``texts`` from replica ``task`` of numeric job ``job``, 10 ms apart."""
        self.logging.append(
            dict(
                text=text,
                job_id=job,
                task_name=task,
                timestamp=start + timedelta(milliseconds=10 * i),
                labels=labels,
            )
            for i, text in enumerate(texts)
        )


@pytest.fixture
def gcp(
    vertex: VertexServer,
    cloud_logging: LoggingServer,
    gcs: GcsEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Gcp]:
    """The servers with mlx's bucket, and mlx polling and retrying every few milliseconds."""
    servers = Gcp(vertex, cloud_logging, gcs)
    servers.storage().create_bucket(BUCKET)
    monkeypatch.setenv("MLX_PACING", "fast")
    yield servers


def vertex_spec(tmp_path: Path, **fields: Any) -> Path:
    """A Vertex spec in ``tmp_path/project`` with a code dir; ``fields`` override."""
    write(tmp_path / "project" / "code" / "train.py", "print('training')\n")
    doc = {
        "name": "vx",
        "provider": "vertex",
        "image": IMAGE,
        "command": "python train.py",
        "code": "./code",
        "vertex": dict(SETTINGS),
        **fields,
    }
    return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def just_now() -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=5)
