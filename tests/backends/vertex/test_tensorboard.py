"""``mlx tensorboard`` on Vertex AI: a job that ran through the platform runner, its event
files read from Cloud Storage in ranges (``tests.tensorboard.scenario``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.vertex.conftest import BUCKET, IMAGE, SETTINGS, Gcp
from tests.emulators.vertex_runs import VertexRuns
from tests.tensorboard.scenario import CloudTensorBoard


class TestVertexTensorBoard(CloudTensorBoard):
    @pytest.fixture(autouse=True)
    def _servers(self, gcp: Gcp, vertex_runs: VertexRuns) -> None:
        self.gcp = gcp

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "vertex", "image": IMAGE, "vertex": dict(SETTINGS)}

    def event_keys(self, job: str) -> list[str]:
        return [k for k in self.gcp.objects(f"mlx/{job}/") if "/tensorboard/events." in k]

    def get(self, key: str) -> bytes:
        return self.gcp.storage().bucket(BUCKET).blob(key).download_as_bytes()

    def put(self, key: str, body: bytes) -> None:
        self.gcp.put_object(key, body)

    def reads(self, key: str) -> list[dict[str, str]]:
        from urllib.parse import quote

        gets = self.gcp.gcs.operations("objects.get")
        return [r.headers for r in gets if quote(key, safe="") in r.path and r.method == "GET"]
