"""``tune.engine: mlx`` on Azure ML: mlx's search here, each trial a command job that the
test server runs (``AzureMLServer.execute_jobs``), named after its mlx id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.tuning.engine_scenarios import EngineScenarios

# azure-ai-ml's schemas warn about marshmallow on every job they load.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TestAzureEngine(EngineScenarios):
    @pytest.fixture(autouse=True)
    def _servers(self, azure: Azure, tmp_path: Path) -> None:
        self.azure = azure
        self.runs = azure.server.execute_jobs(
            SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs"
        )

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)}

    def created(self) -> list[str]:
        """One run per job the server created (a PUT to an existing name starts none)."""
        return [thread.name.removeprefix("azure-run-") for thread in self.runs.threads]

    def stopped(self) -> list[str]:
        cancels = self.azure.server.requests("POST jobs/cancel")
        return [r.path.rsplit("/", 2)[1] for r in cancels]

    def lose_next_create(self) -> Any:
        return self.azure.server.plan.add("PUT jobs", "reset", after_bytes=0, times=1)
