"""Everyday use on Vertex AI: rerun, tags sent as the CustomJob's labels, console URL."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from tests.backends.everyday import Everyday
from tests.backends.vertex.conftest import IMAGE, SETTINGS, Gcp
from tests.emulators.vertex_runs import VertexRuns


class TestVertexEveryday(Everyday):
    @pytest.fixture(autouse=True)
    def _servers(self, gcp: Gcp, vertex_runs: VertexRuns) -> None:
        self.gcp = gcp

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "vertex", "image": IMAGE, "vertex": dict(SETTINGS)}

    def sent_tags(self, job: str) -> Optional[dict[str, str]]:
        (found,) = [j for j in self.gcp.vertex.jobs.values() if j.labels.get("mlx-job-id") == job]
        return dict(found.labels)

    def console_url(self, status: dict[str, Any]) -> Optional[str]:
        # projects/<number>/locations/<l>/customJobs/<id>: Vertex names the project by number
        _, project, _, location, _, number = status["native_id"].split("/")
        return (
            f"https://console.cloud.google.com/agent-platform/locations/{location}/training/"
            f"{number}?project={project}"
        )
