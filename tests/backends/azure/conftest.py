"""Azure backend tests: the Azure ML test server and Azurite, fast polling, and helpers that
play a job's part (state, log blobs, artifacts) the way Azure ML would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import write
from tests.emulators.azureml import AzureMLServer
from tests.emulators.proxy import FaultProxy

IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
SETTINGS = {"compute": "gpu-cluster"}  # the workspace comes from the MLX_AZURE_* fixture env


class Azure:
    """The Azure ML test server (and its Azurite), and what a test does with them."""

    def __init__(self, server: AzureMLServer) -> None:
        self.server = server

    def wait_for_job(self, index: int = 0, kind: str = "Command") -> str:
        """The name of the ``index``-th job of ``kind`` (Command, Sweep) created."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            names = [
                r.path.rsplit("/", 1)[-1]
                for r in self.server.requests("PUT jobs")
                if r.status in (200, 201) and r.json["properties"]["jobType"] == kind
            ]
            unique = list(dict.fromkeys(names))
            if len(unique) > index:
                return unique[index]
            time.sleep(0.01)
        raise AssertionError(f"no {kind} job #{index} within 20 s")

    def log(self, run: str, lines: list[str], process: int | None = 0) -> None:
        """Append ``lines`` to process ``process``'s log of ``run`` (None: std_log.txt)."""
        name = "std_log.txt" if process is None else f"std_log_process_{process}.txt"
        self.server.write_log(run, "".join(f"{line}\n" for line in lines), f"user_logs/{name}")

    def blobs(self) -> Any:
        return self.server.azurite.service_client().get_container_client(self.server.blob_container)

    def put_artifact(self, run: str, path: str, data: bytes) -> None:
        """An artifact at ``mlx/<run>/<path>`` on workspaceblobstore, with its Content-MD5."""
        self.blobs().upload_blob(f"mlx/{run}/{path}", data, overwrite=True)

    def submitted(self, name: str) -> dict[str, Any]:
        """The properties of the PUT that created job ``name``."""
        puts = [r for r in self.server.requests("PUT jobs") if r.path.endswith("/" + name)]
        return puts[0].json["properties"]


@pytest.fixture
def azure(azureml: AzureMLServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Azure]:
    """The servers, and mlx polling and retrying every few milliseconds."""
    monkeypatch.setenv("MLX_PACING", "fast")
    yield Azure(azureml)


@pytest.fixture
def proxied(azure: Azure, azurite_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> FaultProxy:
    """Blob reads go through a recording, fault-injecting proxy in front of Azurite."""
    monkeypatch.setenv("MLX_AZURE_BLOB_ENDPOINT", f"{azurite_proxy.url}/devstoreaccount1")
    return azurite_proxy


def azure_spec(tmp_path: Path, **fields: Any) -> Path:
    """An Azure spec in ``tmp_path/project`` with a code dir; ``fields`` override."""
    write(tmp_path / "project" / "code" / "train.py", "print('training')\n")
    doc = {
        "name": "az",
        "provider": "azure",
        "image": IMAGE,
        "command": "python train.py",
        "code": "./code",
        "azure": dict(SETTINGS),
        **fields,
    }
    return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))
