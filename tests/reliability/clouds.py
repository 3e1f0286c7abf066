"""One face for the three cloud test setups, so a reliability scenario is written once.

Each ``Cloud`` wraps its backend's fixture (``sm``, ``gcp``, ``azure`` from
``tests/backends/<provider>/conftest.py``) and says, in its provider's words, which
operation a call of mlx sends (what a fault matches) and how the server plays the job's
part: its state, its log lines, its artifacts.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.emulators.faults import FaultPlan

# The calls of mlx a user sees fail: `train`, `status`, `logs`, `jobs`,
# `pull-artifacts --list` and `pull-artifacts`.
CALLS = ("submit", "status", "logs", "jobs", "list", "download")


class Cloud:
    """What a scenario needs from one provider's test setup."""

    name: str

    def spec(self, tmp_path: Path) -> Path:
        raise NotImplementedError

    def run(self, job: dict[str, Any]) -> None:
        """Mark the submitted job running."""
        raise NotImplementedError

    def log(self, job: dict[str, Any], lines: list[str]) -> None:
        raise NotImplementedError

    def put(self, job: dict[str, Any], path: str, data: bytes) -> None:
        """An artifact at the neutral ``path`` (``model/x.bin``) of ``job``."""
        raise NotImplementedError

    def fault_target(self, call: str, job: dict[str, Any], path: str = "") -> tuple[FaultPlan, str]:
        """The plan and operation glob that disturb ``call`` (``path``: the artifact)."""
        raise NotImplementedError

    def fetches(self, job: dict[str, Any], path: str) -> int:
        """How many times the server was asked for artifact ``path``'s bytes."""
        raise NotImplementedError

    def checksum(self, data: bytes) -> str:
        """The checksum the provider lists for ``data`` (as ``--list --json`` shows it)."""
        return hashlib.md5(data).hexdigest()

    def mismatch(self, job: dict[str, Any], path: str, good: bytes, bad: bytes) -> str:
        """The error line for artifact ``path`` holding ``good`` but arriving as ``bad``."""
        expected, got = self.checksum(good), self.checksum(bad)
        return f"checksum mismatch for {path}: expected {expected}, got {got}; nothing was written"


class SageMaker(Cloud):
    name = "sagemaker"

    def __init__(self, sm: Any) -> None:
        self.sm = sm

    def spec(self, tmp_path: Path) -> Path:
        from tests.backends.sagemaker.conftest import sagemaker_spec

        return sagemaker_spec(tmp_path)

    def run(self, job: dict[str, Any]) -> None:
        self.sm.set_training_job(job["native_id"], status="InProgress")

    def log(self, job: dict[str, Any], lines: list[str]) -> None:
        from tests.backends.sagemaker.conftest import now_ms, put_node_lines

        put_node_lines(self.sm, job["native_id"], {0: lines}, now_ms())

    def _key(self, job: dict[str, Any], path: str) -> str:
        # model/ and output/ live under the training job's own output prefix
        return f"mlx/{job['id']}/{job['native_id']}/output/{path}"

    def put(self, job: dict[str, Any], path: str, data: bytes) -> None:
        from tests.backends.sagemaker.conftest import put_object

        put_object(self.sm, self._key(job, path), data)

    def fault_target(self, call: str, job: dict[str, Any], path: str = "") -> tuple[FaultPlan, str]:
        from tests.backends.sagemaker.conftest import BUCKET

        if call == "download":
            return self.sm.plan, f"S3 GET /{BUCKET}/{self._key(job, path)}"
        operations = {
            "submit": "CreateTrainingJob",
            "status": "DescribeTrainingJob",
            "logs": "FilterLogEvents",
            "list": f"S3 GET /{BUCKET}",
        }
        return self.sm.plan, operations[call]

    def mismatch(self, job: dict[str, Any], path: str, good: bytes, bad: bytes) -> str:
        """botocore checks S3's own CRC32 of the object first, in its words."""
        from tests.backends.sagemaker.conftest import BUCKET

        def crc32(data: bytes) -> str:
            return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()

        return (
            f"checksum mismatch for s3://{BUCKET}/{self._key(job, path)}: Expected checksum "
            f"{crc32(good)} did not match calculated checksum: {crc32(bad)}; nothing was written"
        )

    def fetches(self, job: dict[str, Any], path: str) -> int:
        from tests.backends.sagemaker.conftest import BUCKET

        return self.sm.plan.count(f"S3 GET /{BUCKET}/{self._key(job, path)}")


class Vertex(Cloud):
    name = "vertex"

    def __init__(self, gcp: Any) -> None:
        self.gcp = gcp

    def spec(self, tmp_path: Path) -> Path:
        from tests.backends.vertex.conftest import vertex_spec

        return vertex_spec(tmp_path)

    @staticmethod
    def numeric(job: dict[str, Any]) -> str:
        return job["native_id"].rsplit("/", 1)[1]

    def run(self, job: dict[str, Any]) -> None:
        self.gcp.vertex.set_state(self.numeric(job), "JOB_STATE_RUNNING")

    def log(self, job: dict[str, Any], lines: list[str]) -> None:
        from tests.backends.vertex.conftest import just_now

        self.gcp.log_lines(self.numeric(job), "workerpool0-0", lines, just_now())

    def put(self, job: dict[str, Any], path: str, data: bytes) -> None:
        self.gcp.put_object(f"mlx/{job['id']}/{path}", data)

    def fault_target(self, call: str, job: dict[str, Any], path: str = "") -> tuple[FaultPlan, str]:
        # Cloud Storage operations are JSON API methods: objects.get serves every object.
        planned = {
            "submit": (self.gcp.vertex.plan, "CreateCustomJob"),
            "status": (self.gcp.vertex.plan, "GetCustomJob"),
            "logs": (self.gcp.logging.plan, "ListLogEntries"),
            "jobs": (self.gcp.vertex.plan, "ListCustomJobs"),
            "list": (self.gcp.gcs.plan, "objects.list"),
            "download": (self.gcp.gcs.plan, "objects.get"),
        }
        return planned[call]

    def fetches(self, job: dict[str, Any], path: str) -> int:
        media = f"/download/storage/v1/b/mlx-test/o/mlx%2F{job['id']}%2F{path.replace('/', '%2F')}"
        return sum(r.path.startswith(media) for r in self.gcp.gcs.requests)

    def checksum(self, data: bytes) -> str:
        import google_crc32c

        return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


class Azure(Cloud):
    name = "azure"

    def __init__(self, azure: Any, proxy: Any) -> None:
        self.azure, self.proxy = azure, proxy

    def spec(self, tmp_path: Path) -> Path:
        from tests.backends.azure.conftest import azure_spec

        return azure_spec(tmp_path)

    def run(self, job: dict[str, Any]) -> None:
        self.azure.server.set_status(job["id"], "Running")

    def log(self, job: dict[str, Any], lines: list[str]) -> None:
        self.azure.log(job["id"], lines, process=None)

    def put(self, job: dict[str, Any], path: str, data: bytes) -> None:
        self.azure.put_artifact(job["id"], path, data)

    def fault_target(self, call: str, job: dict[str, Any], path: str = "") -> tuple[FaultPlan, str]:
        container = f"/devstoreaccount1/{self.azure.server.blob_container}"
        if call == "download":
            return self.proxy.plan, f"GET {container}/mlx/{job['id']}/{path}"
        planned = {
            "submit": (self.azure.server.plan, "PUT jobs"),
            "status": (self.azure.server.plan, "GET runs/details"),  # run history: direct
            "logs": (self.proxy.plan, "GET /devstoreaccount1/*"),  # log blobs: listed, read
            "jobs": (self.azure.server.plan, "LIST jobs"),
            "list": (self.proxy.plan, f"GET {container}"),
        }
        return planned[call]

    def fetches(self, job: dict[str, Any], path: str) -> int:
        return self.proxy.plan.count(f"GET */mlx/{job['id']}/{path}")


def cloud_for(request: pytest.FixtureRequest, name: str) -> Cloud:
    """The ``Cloud`` for provider ``name``, its servers started through their fixtures."""
    if name == "sagemaker":
        return SageMaker(request.getfixturevalue("sm"))
    if name == "vertex":
        return Vertex(request.getfixturevalue("gcp"))
    return Azure(request.getfixturevalue("azure"), request.getfixturevalue("proxied"))
