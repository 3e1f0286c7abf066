"""``mlx tensorboard`` on Azure ML: a job that ran through the platform runner, its event
files read from the datastore's container in ranges (``tests.tensorboard.scenario``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.emulators.proxy import FaultProxy
from tests.tensorboard.scenario import CloudTensorBoard

# azure-ai-ml's schemas warn about marshmallow on every job they load.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TestAzureTensorBoard(CloudTensorBoard):
    @pytest.fixture(autouse=True)
    def _servers(self, azure: Azure, proxied: FaultProxy, tmp_path: Path) -> None:
        self.azure, self.proxy = azure, proxied
        azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)}

    def event_keys(self, job: str) -> list[str]:
        names = [b.name for b in self.azure.blobs().list_blobs(name_starts_with="mlx/")]
        return [n for n in names if "/output/tensorboard/events." in n]

    def get(self, key: str) -> bytes:
        return self.azure.blobs().download_blob(key).readall()

    def put(self, key: str, body: bytes) -> None:
        self.azure.blobs().upload_blob(key, body, overwrite=True)

    def reads(self, key: str) -> list[dict[str, str]]:
        from urllib.parse import quote

        path = quote(key)
        return [
            r.headers
            for r in self.proxy.requests
            if r.method == "GET" and r.path.split("?")[0].endswith("/" + path)
        ]
