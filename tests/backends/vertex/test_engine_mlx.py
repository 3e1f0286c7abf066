"""``tune.engine: mlx`` on Vertex AI: mlx's search here, each trial a ``CustomJob`` that the
test server runs (``vertex_runs``), found again by its ``mlx-job-id`` label."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.backends.vertex.conftest import IMAGE, SETTINGS, Gcp
from tests.emulators.vertex_runs import VertexRuns
from tests.tuning.engine_scenarios import EngineScenarios

LABEL = "mlx-job-id"


class TestVertexEngine(EngineScenarios):
    @pytest.fixture(autouse=True)
    def _servers(self, gcp: Gcp, vertex_runs: VertexRuns) -> None:
        self.gcp = gcp

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "vertex", "image": IMAGE, "vertex": dict(SETTINGS)}

    def created(self) -> list[str]:
        jobs = self.gcp.vertex.jobs.values()
        return [job.labels[LABEL] for job in jobs if "/customJobs/" in job.name]

    def stopped(self) -> list[str]:
        numbers = [r["path"].rsplit("/", 1)[1].split(":")[0] for r in self.cancels()]
        return [self.gcp.vertex.jobs[n].labels[LABEL] for n in numbers]

    def cancels(self) -> list[dict[str, Any]]:
        return self.gcp.vertex.requests("CancelCustomJob")

    def lose_next_create(self) -> Any:
        # after_bytes > 0: the server creates the job, then cuts its answer (with 0 it
        # drops the request before acting).
        return self.gcp.vertex.plan.add("CreateCustomJob", "reset", after_bytes=40, times=1)

    def test_a_create_still_unsettled_when_the_driver_dies_is_found_not_made_again(
        self, mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Trial 0's create reaches Vertex and its answer is lost; the lookup by label
        (``ListCustomJobs``) fails too, so the driver keeps asking, and is killed. The
        next driver finds the job by its label and watches it: one job, no second trial."""
        # The gcp fixture retries each call for up to 5 s; 1 s keeps the failing lookups short.
        monkeypatch.setenv("MLX_PACING", "fast,retry_total=1")
        plan = self.gcp.vertex.plan
        plan.add("CreateCustomJob", "reset", after_bytes=40, times=1)
        plan.add("ListCustomJobs", "error", status=503, times=100_000)
        path = self.spec(tmp_path, algorithm="random", max_trials=2, parallel_trials=1)
        started = mlx("tune", path, "--detach", "--json")
        assert started.exit_code == 0, started.stderr
        job = json.loads(started.stdout)["id"]
        first = f"{job}-t0"
        home = Path(os.environ["MLX_HOME"]) / "jobs" / job
        deadline = time.monotonic() + 30
        while "looking its job up failed" not in mlx("logs", job).stdout:
            assert time.monotonic() < deadline, mlx("logs", job).stdout
            time.sleep(0.1)
        assert self.created() == [first]
        assert json.loads(mlx("status", first, "--json").stdout)["native_id"] is None
        os.kill(int((home / "supervisor.pid").read_text()), signal.SIGKILL)
        while json.loads(mlx("status", job, "--json").stdout)["state"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.05)

        plan.clear()  # Vertex answers again
        study = self.tune(mlx, "--resume", job)
        assert [(t["number"], t["state"]) for t in study["trials"]] == [
            (0, "succeeded"),
            (1, "succeeded"),
        ]
        assert sorted(self.created()) == [first, f"{job}-t1"]
        assert "[mlx] trial 0 reattached" in mlx("logs", job).stdout
