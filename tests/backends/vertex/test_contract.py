"""The backend contract on Vertex AI: the test servers run the jobs mlx creates, through
the Vertex platform runner (``tests.emulators.vertex_runs``)."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from tests.backends import contract
from tests.backends.vertex.conftest import IMAGE, SETTINGS, Gcp
from tests.emulators.vertex_runs import VertexRuns


class TestVertexContract(contract.BackendContract):
    @pytest.fixture(autouse=True)
    def _servers(self, gcp: Gcp, vertex_runs: VertexRuns) -> None:
        self.gcp, self.runs = gcp, vertex_runs

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "vertex", "image": IMAGE, "vertex": dict(SETTINGS)}

    def tuner_objectives(self) -> Optional[list[float]]:
        number, _job = self.gcp.wait_for_job("CreateHyperparameterTuningJob")
        received = self.runs.objectives(number)
        assert None not in received, received
        return [value for value in received if value is not None]
