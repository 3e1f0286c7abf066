"""What a Vertex AI job cost: its own start and end times × replicas × the catalog price
(Vertex reports no billed time)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.cost import JobCost
from tests.backends.vertex.conftest import IMAGE, SETTINGS, Gcp
from tests.emulators.vertex_runs import VertexRuns


class TestVertexCost(JobCost):
    provider = "vertex"
    instance_type = "n1-standard-4"

    @pytest.fixture(autouse=True)
    def _servers(self, gcp: Gcp, vertex_runs: VertexRuns) -> None:
        self.gcp = gcp

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "vertex", "image": IMAGE, "vertex": dict(SETTINGS)}

    def billed(self, status: dict[str, Any]) -> tuple[float, str]:
        (job,) = [
            j for j in self.gcp.vertex.jobs.values() if j.labels.get("mlx-job-id") == status["id"]
        ]
        return job.end_time.timestamp() - job.start_time.timestamp(), "duration"
