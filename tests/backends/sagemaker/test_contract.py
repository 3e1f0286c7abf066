"""The backend contract on SageMaker: the test server runs each job through mlx's runner."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends import contract
from tests.backends.sagemaker.conftest import FRAMEWORK_IMAGE, SETTINGS
from tests.emulators.aws import AwsServer
from tests.emulators.aws_runs import JobRuns


class TestSageMakerContract(contract.BackendContract):
    @pytest.fixture(autouse=True)
    def _server(self, sm: AwsServer) -> None:
        self.aws = sm
        self.runs: JobRuns = sm.execute_jobs()
        sm.log_page_size = 7  # 30 lines of 2 nodes: 5 pages

    def spec_fields(self) -> dict[str, Any]:
        # AWS's image: `mlx tune` hands the search to SageMaker's tuner.
        return {"provider": "sagemaker", "image": FRAMEWORK_IMAGE, "sagemaker": dict(SETTINGS)}

    def tuner_objectives(self) -> list[float] | None:
        return [value for values in self.runs.objectives.values() for value in values]
