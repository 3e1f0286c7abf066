"""`logs -f` during a provider outage that outlasts the retries (issue 16, item 11): mlx
stops following, and says that the job keeps running and how to come back to it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.clouds import Cloud, cloud_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(params=("sagemaker", "vertex", "azure"))
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    chosen = cloud_for(request, request.param)
    if request.param == "vertex":
        monkeypatch.setenv("MLX_PACING", "fast,retry_total=1")  # as in test_retries.py
    return chosen


def test_following_through_an_outage_says_the_job_keeps_running(
    mlx: Any, cloud: Cloud, tmp_path: Path
) -> None:
    started = mlx("train", cloud.spec(tmp_path), "--detach", "--json")
    assert started.exit_code == 0, started.stderr
    job = json.loads(started.stdout)
    cloud.run(job)
    cloud.log(job, ["epoch 1"])
    for call in ("logs", "status"):  # the provider answers nothing any more
        plan, operation = cloud.fault_target(call, job)
        plan.add(operation, "error", status=503, times=10_000)
    began = time.monotonic()
    result = mlx("logs", "-f", job["id"])
    assert time.monotonic() - began < 60
    assert result.exit_code == 1
    error, hint = result.stderr.splitlines()[-2:]
    assert error.startswith(f"Error: stopped following {job['id']} (")
    assert error.endswith("); the job keeps running")
    assert hint == (
        f"Hint: Reattach with `mlx logs -f {job['id']}` once {cloud.name} answers again; "
        f"`mlx status {job['id']}` shows its state."
    )
    assert "Traceback" not in result.stderr
