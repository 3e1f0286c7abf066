"""The backend contract on Vertex AI: the test servers play the jobs' part."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends import contract
from tests.backends.vertex.conftest import IMAGE, SETTINGS, TRIAL_LABEL, Gcp, just_now


class TestVertexContract(contract.BackendContract):
    @pytest.fixture(autouse=True)
    def _servers(self, gcp: Gcp) -> None:
        self.gcp = gcp

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "vertex", "image": IMAGE, "vertex": dict(SETTINGS)}

    def play_training(self) -> None:
        number, job = self.gcp.wait_for_job("CreateCustomJob")
        self.gcp.vertex.set_state(number, "JOB_STATE_RUNNING")
        start = just_now()
        for node in range(contract.NODES):
            task = "workerpool0-0" if node == 0 else f"workerpool1-{node - 1}"
            self.gcp.log_lines(number, task, contract.node_lines(node), start)
        key = f"mlx/{job.display_name}/{contract.ARTIFACT}"
        self.gcp.put_object(key, contract.TRAINED.encode())
        self.gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")

    def play_tuning(self) -> None:
        number, job = self.gcp.wait_for_job("CreateHyperparameterTuningJob")
        self.gcp.vertex.set_state(number, "JOB_STATE_RUNNING")
        trials = []
        for i, x in enumerate(contract.OBJECTIVES, start=1):
            trial = {TRIAL_LABEL: str(i)}
            self.gcp.log_lines(number, "workerpool0-0", [f"loss={x!r}"], just_now(), **trial)
            key = f"mlx/{job.display_name}/{i}/{contract.ARTIFACT}"
            self.gcp.put_object(key, f"loss={x!r}".encode())
            trials.append(
                {
                    "id": str(i),
                    "state": "SUCCEEDED",
                    "parameters": [{"parameterId": "x", "value": x}],
                    "finalMeasurement": {"metrics": [{"metricId": "loss", "value": x}]},
                }
            )
        self.gcp.vertex.set_trials(number, trials)
        self.gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")
