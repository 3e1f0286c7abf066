"""A create whose answer was lost, when the lookup that should settle it fails too: the job
may be running, so it stays pending (never "failed"), and the next `status` settles it
through the provider's lookup by mlx id; `cancel` then stops it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.clouds import Cloud, cloud_for

CLOUDS = ("sagemaker", "vertex", "azure")

# In each provider's words: the create whose answer is cut (the server acted), and the
# lookup by mlx id that then fails for as long as the test wants.
# ``after_bytes``: how each test server cuts an answer after it acted (Vertex's drops a
# request before acting when it is 0).
LOST = {
    "sagemaker": ("CreateTrainingJob", "DescribeTrainingJob", 0),
    "vertex": ("CreateCustomJob", "ListCustomJobs", 40),
    "azure": ("PUT jobs", "GET jobs", 0),
}


@pytest.fixture(params=CLOUDS)
def cloud(request: pytest.FixtureRequest) -> Cloud:
    return cloud_for(request, request.param)


def test_a_lost_create_with_a_failing_lookup_stays_pending_until_settled(
    mlx: Any, cloud: Cloud, tmp_path: Path
) -> None:
    plan, _ = cloud.fault_target("submit", {})
    create, lookup, after_bytes = LOST[cloud.name]
    # The service creates the job and the answer never arrives (also on the SDK's retries).
    plan.add(create, "reset", after_bytes=after_bytes, times=20)
    plan.add(lookup, "error", status=503, times=10_000)

    result = mlx("train", cloud.spec(tmp_path), "--detach")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "the job may be running" in result.stderr
    (listed,) = json.loads(mlx("jobs", "--json").stdout)
    assert (listed["state"], listed["native_id"]) == ("pending", None)

    plan.clear()  # the provider answers again
    status = json.loads(mlx("status", listed["id"], "--json").stdout)
    assert status["state"] == "pending"
    assert status["native_id"]  # found by mlx's id and recorded
    cancelled = mlx("cancel", listed["id"])
    assert cancelled.exit_code == 0, cancelled.stderr
    assert json.loads(mlx("status", listed["id"], "--json").stdout)["state"] == "cancelled"
