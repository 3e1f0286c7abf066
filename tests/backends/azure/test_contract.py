"""The backend contract on Azure ML: the test servers play the jobs' part."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.backends import contract
from tests.backends.azure.conftest import IMAGE, SETTINGS, Azure

# azure-ai-ml's schemas warn about marshmallow on every job they load.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TestAzureContract(contract.BackendContract):
    @pytest.fixture(autouse=True)
    def _servers(self, azure: Azure) -> None:
        self.azure = azure

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "azure", "image": IMAGE, "azure": dict(SETTINGS)}

    def play_training(self) -> None:
        name = self.azure.wait_for_job()
        self.azure.server.set_status(name, "Running")
        for node in range(contract.NODES):
            self.azure.log(name, contract.node_lines(node), process=node)
        self.azure.put_artifact(name, contract.ARTIFACT, contract.TRAINED.encode())
        self.azure.server.set_status(name, "Completed")

    def play_tuning(self) -> None:
        name = self.azure.wait_for_job(kind="Sweep")
        self.azure.server.set_status(name, "Running")
        children = []
        for i, x in enumerate(contract.OBJECTIVES):
            trial = f"{name}_{i}"
            children.append(
                {
                    "runId": trial,
                    "status": "Completed",
                    "tags": {"hyperparameters": json.dumps({"x": x}), "loss": str(x)},
                }
            )
            self.azure.put_artifact(trial, contract.ARTIFACT, f"loss={x!r}".encode())
        self.azure.server.add_child_runs(name, children)
        for i, x in enumerate(contract.OBJECTIVES):
            self.azure.log(f"{name}_{i}", [f"loss={x!r}"], process=None)
        self.azure.server.set_status(name, "Completed")
