"""Everyday use on SageMaker: rerun, tags sent as the training job's Tags, console URL."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from tests.backends.everyday import Everyday
from tests.backends.sagemaker.conftest import IMAGE, SETTINGS
from tests.emulators.aws import AwsServer


class TestSageMakerEveryday(Everyday):
    @pytest.fixture(autouse=True)
    def _servers(self, sm: AwsServer) -> None:
        self.aws = sm
        sm.execute_jobs()

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "sagemaker", "image": IMAGE, "sagemaker": dict(SETTINGS)}

    def sent_tags(self, job: str) -> Optional[dict[str, str]]:
        (request,) = [
            r for r in self.aws.requests("CreateTrainingJob") if r["TrainingJobName"] == job
        ]
        return {tag["Key"]: tag["Value"] for tag in request.get("Tags") or []}

    def console_url(self, status: dict[str, Any]) -> Optional[str]:
        region = SETTINGS["region"]
        return (
            f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
            f"#/jobs/{status['native_id']}"
        )
