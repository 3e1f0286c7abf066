"""How the Vertex test servers end the jobs they run (``vertex_runs``): a failing replica
fails the job with Vertex's message, its lines are in Cloud Logging as Vertex writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.logging.type.log_severity_pb2 import LogSeverity

from tests.backends.vertex.conftest import Gcp, vertex_spec
from tests.conftest import write
from tests.emulators.vertex_runs import VertexRuns

FAILING = """
import sys
print("about to fail", flush=True)
print("the reason", file=sys.stderr, flush=True)
sys.exit(3)
"""


def test_a_failing_replica_fails_the_job_with_vertex_s_message(
    mlx: Any, gcp: Gcp, vertex_runs: VertexRuns, tmp_path: Path
) -> None:
    spec = vertex_spec(tmp_path)
    write(tmp_path / "project" / "code" / "train.py", FAILING)
    result = mlx("train", spec)
    assert result.exit_code == 1
    assert "about to fail" in result.stdout and "the reason" in result.stdout
    (job,) = gcp.vertex.jobs.values()
    assert job.state.name == "JOB_STATE_FAILED"
    assert job.error.message == (
        "The replica workerpool0-0 exited with a non-zero status of 3. Termination reason: Error."
    )
    entries = {e.text_payload: e for e in gcp.logging.entries}
    assert entries["the reason"].severity == LogSeverity.ERROR
    assert entries["about to fail"].severity == LogSeverity.INFO
    labels = entries["about to fail"].resource.labels
    assert (labels["job_id"], labels["task_name"]) == (job.name.rsplit("/", 1)[1], "workerpool0-0")
    (listed,) = json.loads(mlx("jobs", "--json").stdout)
    status = json.loads(mlx("status", listed["id"], "--json").stdout)
    assert status["state"] == "failed"
