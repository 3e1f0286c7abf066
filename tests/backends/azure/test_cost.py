"""What an Azure ML job cost: its run's start and end times × instances × the catalog price
(Azure ML reports no billed time)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.backends.cost import JobCost

# azure-ai-ml's schemas warn about marshmallow on every job they load.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TestAzureCost(JobCost):
    provider = "azure"
    instance_type = "Standard_D4s_v5"

    @pytest.fixture(autouse=True)
    def _servers(self, azure: Azure, tmp_path: Path) -> None:
        self.azure = azure
        azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)}

    def billed(self, status: dict[str, Any]) -> tuple[float, str]:
        run = self.azure.server._runs[status["native_id"]]  # the run history's times
        start, end = (
            datetime.fromisoformat(run[key].replace("Z", "+00:00"))
            for key in ("startTimeUtc", "endTimeUtc")
        )
        return (end - start).total_seconds(), "duration"
