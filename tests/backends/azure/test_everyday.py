"""Everyday use on Azure ML: rerun, tags sent as the job's tags, the studio URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from mlx.runner.sandbox import SandboxRuntime
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure
from tests.backends.everyday import Everyday

# azure-ai-ml's schemas warn about marshmallow on every job they load.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TestAzureEveryday(Everyday):
    @pytest.fixture(autouse=True)
    def _servers(self, azure: Azure, tmp_path: Path) -> None:
        self.azure = azure
        azure.server.execute_jobs(SandboxRuntime(tmp_path / "sandbox"), tmp_path / "runs")

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)}

    def sent_tags(self, job: str) -> Optional[dict[str, str]]:
        return dict(self.azure.submitted(job)["tags"])

    def console_url(self, status: dict[str, Any]) -> Optional[str]:
        server = self.azure.server
        return (
            f"https://ml.azure.com/runs/{status['native_id']}?wsid=/subscriptions/"
            f"{server.subscription_id}/resourcegroups/{server.resource_group}/workspaces/"
            f"{server.workspace}"
        )
