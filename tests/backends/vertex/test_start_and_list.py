"""Issue #17 on Vertex AI: the states a starting job goes through, its instance, price
and console lines, and durations by Vertex's own start and end times."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests.backends.vertex.conftest import Gcp, just_now, vertex_spec

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+"


def test_a_starting_job_shows_each_state_it_is_seen_in(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    def seen(count: int) -> int:
        """Once mlx has asked for the job more than ``count`` times: how often."""
        deadline = time.monotonic() + 20
        while len(gcp.vertex.requests("GetCustomJob")) <= count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(gcp.vertex.requests("GetCustomJob"))

    def play() -> None:
        number, _job = gcp.wait_for_job()
        seen(0)  # mlx has seen it pending
        gcp.vertex.set_state(number, "JOB_STATE_RUNNING")
        seen(len(gcp.vertex.requests("GetCustomJob")))  # and running: a look since the change
        gcp.log_lines(number, "workerpool0-0", ["epoch 1"], just_now())
        gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    result = mlx("train", vertex_spec(tmp_path))
    thread.join()
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    job = json.loads(mlx("jobs", "--json").stdout)[0]
    assert lines[0].startswith("Instance: ") and " on-demand; max $" in lines[0]  # before submit
    assert lines[1].startswith(f"Started {job['id']} on vertex")
    project, location, number = re.fullmatch(
        r"projects/([^/]+)/locations/([^/]+)/customJobs/(\d+)", job["native_id"]
    ).groups()  # type: ignore[union-attr]
    assert lines[2] == (
        f"Console: https://console.cloud.google.com/agent-platform/locations/{location}"
        f"/training/{number}?project={project}"
    )
    assert re.fullmatch(rf"{STAMP} Pending", lines[3]), lines
    assert re.fullmatch(rf"{STAMP} Running", lines[4]), lines
    assert result.stdout == "epoch 1\n"


def test_a_job_that_ended_unobserved_gets_vertexs_duration(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    started = mlx("train", vertex_spec(tmp_path), "--detach", "--json")
    job = json.loads(started.stdout)
    number = job["native_id"].rsplit("/", 1)[1]
    gcp.vertex.set_state(number, "JOB_STATE_RUNNING")
    gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")
    start = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    with gcp.vertex._lock:  # Vertex's own clock: a 4-minute job
        native = gcp.vertex._job(number)
        native.start_time, native.end_time = start, start + timedelta(minutes=4)
    listed = json.loads(mlx("jobs", "--json").stdout)[0]
    assert (listed["state"], listed["ended_at"]) == ("succeeded", "2026-11-20T09:04:00+00:00")
    row = mlx("jobs").stdout.splitlines()[1]
    assert row.split(maxsplit=5)[-1].strip() == "4m 00s"


def _play_start(gcp: Gcp, rpc: str, get: str) -> str:
    """Wait for the job ``rpc`` created, let mlx see it pending, then running; its id."""

    def seen(count: int) -> int:
        deadline = time.monotonic() + 20
        while len(gcp.vertex.requests(get)) <= count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(gcp.vertex.requests(get))

    number, _job = gcp.wait_for_job(rpc)
    gcp.vertex.set_state(number, "JOB_STATE_PENDING")
    seen(len(gcp.vertex.requests(get)))  # mlx has seen it pending
    gcp.vertex.set_state(number, "JOB_STATE_RUNNING")
    # Running seen: two looks that arrived after the change (one on its way while the state
    # changed may have been answered with the state before, and one status may take two).
    seen(len(gcp.vertex.requests(get)) + 1)
    return number


def test_logs_f_on_a_job_still_starting_shows_its_states_before_its_lines(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    started = json.loads(mlx("train", vertex_spec(tmp_path), "--detach", "--json").stdout)

    def play() -> None:
        number = _play_start(gcp, "CreateCustomJob", "GetCustomJob")
        gcp.log_lines(number, "workerpool0-0", ["epoch 1"], just_now())
        gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    result = mlx("logs", "-f", started["id"])
    thread.join()
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert re.fullmatch(rf"{STAMP} Pending", lines[0]), lines
    assert re.fullmatch(rf"{STAMP} Running", lines[1]), lines
    assert result.stdout == "epoch 1\n"


def test_a_cloud_tune_shows_the_search_starting_before_its_table(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    spec = vertex_spec(
        tmp_path,
        metrics=[{"name": "loss"}],
        tune={
            "objective": {"metric": "loss"},
            "parameters": {"lr": {"type": "float", "min": 0.001, "max": 0.1}},
        },
    )
    seen_running = threading.Event()

    def play() -> None:
        number = _play_start(gcp, "CreateHyperparameterTuningJob", "GetHyperparameterTuningJob")
        seen_running.set()
        gcp.vertex.set_state(number, "JOB_STATE_CANCELLED")

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    result = mlx("tune", spec)
    thread.join()
    assert seen_running.is_set()
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Console: "))
    assert re.fullmatch(rf"{STAMP} Pending", lines[start + 1]), lines
    assert re.fullmatch(rf"{STAMP} Running", lines[start + 2]), lines
