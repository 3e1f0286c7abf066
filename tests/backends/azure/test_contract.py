"""The backend contract on Azure ML: the test server executes each job with mlx's Azure ML
runner (sandbox runtime), so the contract's script really runs, as Azure ML would run it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlx.runner.sandbox import SandboxRuntime
from tests.backends import contract
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure

# azure-ai-ml's schemas warn about marshmallow on every job they load.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TestAzureContract(contract.BackendContract):
    @pytest.fixture(autouse=True)
    def _servers(self, azure: Azure, tmp_path: Path) -> None:
        self.azure = azure
        self.runs = azure.server.execute_jobs(
            SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs"
        )

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)}

    def tuner_objectives(self) -> list[float] | None:
        """What the sweep read from each trial's MLflow metrics and recorded on it."""
        assert not self.runs.failures, self.runs.failures
        (received,) = self.runs.objectives.values()
        return [value for value in received.values() if value is not None]
