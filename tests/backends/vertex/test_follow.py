"""Following a Vertex job's Cloud Logging entries (issue 19): one filter for every
replica, within the project's read quota however many followers this machine runs, and
history printed as it is paged."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.backends.vertex.conftest import Gcp, just_now, vertex_spec
from tests.conftest import subprocess_env


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


def running_job(mlx: Any, gcp: Gcp, tmp_path: Path, nodes: int) -> tuple[str, str]:
    """(mlx id, numeric Vertex id) of a running job of ``nodes`` replicas."""
    result = mlx("train", vertex_spec(tmp_path, resources={"nodes": nodes}), "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    number = job["native_id"].rsplit("/", 1)[1]
    gcp.vertex.set_state(number, "JOB_STATE_RUNNING")
    return job["id"], number


def task(node: int) -> str:
    return "workerpool0-0" if node == 0 else f"workerpool1-{node - 1}"


def lists(gcp: Gcp) -> list[dict[str, Any]]:
    return gcp.logging.requests("ListLogEntries")


@pytest.mark.parametrize("nodes", [1, 16])
def test_one_request_per_poll_for_every_replica(
    mlx: Any, gcp: Gcp, tmp_path: Path, nodes: int
) -> None:
    job, number = running_job(mlx, gcp, tmp_path, nodes)
    for node in range(nodes):
        gcp.log_lines(number, task(node), [f"node {node} first"], just_now())
    before, polls_before = len(lists(gcp)), len(gcp.vertex.requests("GetCustomJob"))

    def play() -> None:
        wait_until(lambda: len(lists(gcp)) >= before + 3)
        for node in range(nodes):
            gcp.log_lines(number, task(node), [f"node {node} second"], datetime.now(timezone.utc))
        seen = len(lists(gcp))
        wait_until(lambda: len(lists(gcp)) >= seen + 3)
        gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    result = mlx("logs", job, "-f")
    thread.join()
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 * nodes
    reads = lists(gcp)[before:]
    polls = len(gcp.vertex.requests("GetCustomJob")) - polls_before
    assert all("task_name" not in r["filter"] for r in reads)  # one filter for all
    assert 5 <= len(reads) <= polls + 1  # the history, then one request per poll
    # Each poll asks only for what is newer than the newest entry shown.
    bounds = [r["filter"].split('timestamp>="')[1].split('"')[0] for r in reads]
    assert bounds == sorted(bounds) and len(set(bounds)) > 2


def follower(job: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlx", "logs", "-f", job],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_followers_of_one_project_share_its_read_quota(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    """Three `mlx logs -f` at once, against a quota of 6 requests per 2 s (a scaled-down
    60 a minute): the server never sees more than 6 in any 2 s, and each follower gets
    its turns."""
    quota, period, followers = 6, 2.0, 3
    env = subprocess_env(MLX_PACING=f"fast,log_read_quota={quota},log_quota_period={period}")
    jobs = [running_job(mlx, gcp, tmp_path / f"job{i}", nodes=2) for i in range(followers)]
    before = len(lists(gcp))
    children = [follower(job, env) for job, _ in jobs]
    try:
        wait_until(lambda: len(lists(gcp)) >= before + 3 * quota, timeout=120)
        for _, number in jobs:
            gcp.log_lines(number, task(1), ["done"], datetime.now(timezone.utc))
            gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")
        outputs = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            child.kill()
    for child, (out, err) in zip(children, outputs):
        assert child.returncode == 0, err
        assert out.splitlines() == ["[node-1] done"]
    times = sorted(r["at"] for r in lists(gcp)[before:])
    assert len(times) >= 3 * quota
    # Requests are taken from the quota on this machine and counted here on arrival, a
    # little later: a window a little shorter than the period absorbs that delay.
    window = 0.85 * period
    busiest = max(sum(1 for t in times if start <= t < start + window) for start in times)
    assert busiest <= quota, " ".join(f"{t - times[0]:.3f}" for t in times)
    filters = [r["filter"] for r in lists(gcp)[before:]]
    for _, number in jobs:  # every follower had its turns
        assert sum(f'job_id="{number}"' in f for f in filters) >= quota // followers


def test_history_is_printed_before_its_last_page_is_read(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    """The server holds back the second request (the rest of the history, from the first
    page's newest entry) until the first line reached the reader."""
    job, number = running_job(mlx, gcp, tmp_path, nodes=1)
    start = datetime.now(timezone.utc) - timedelta(minutes=2)
    gcp.log_lines(number, task(0), [f"line {i}" for i in range(1500)], start)  # two pages
    gcp.logging.hold_after_first()
    before = len(lists(gcp))
    child = follower(job, subprocess_env())
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 60)
        assert ready, "no line printed while the second page was held back"
        # The raw pipe, not a buffered readline: what it would read ahead of the first line
        # would be missing from communicate(), which reads the pipe itself.
        first = os.read(child.stdout.fileno(), 1 << 20).decode()
        assert first.startswith("line 0\n"), first[:200]
        # ...while the second request, made, is still held back by the server.
        wait_until(lambda: len(lists(gcp)) >= before + 2)
        assert len(lists(gcp)) >= before + 2
        gcp.logging.released.set()
        gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")
        out, err = child.communicate(timeout=120)
    finally:
        gcp.logging.released.set()
        child.kill()
    assert child.returncode == 0, err
    assert (first + out).splitlines() == [f"line {i}" for i in range(1500)]
    assert os.environ.get("MLX_PACING") == "fast"  # the follower polled fast, as in tests


def test_a_read_past_one_page_goes_on_with_a_new_query_from_its_newest_entry(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    """Not the page token: its query ends where the first page's began, so a poll that
    needs two pages would make every later poll need two, each a turn of the quota."""
    job, number = running_job(mlx, gcp, tmp_path, nodes=1)
    start = datetime.now(timezone.utc) - timedelta(minutes=2)
    gcp.log_lines(number, task(0), [f"line {i}" for i in range(1500)], start)  # 10 ms apart
    before = len(lists(gcp))
    gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")
    result = mlx("logs", job, "-f")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"line {i}" for i in range(1500)]  # each once
    first, second = lists(gcp)[before : before + 2]
    assert first["page_size"] == 1000 and not second["page_token"]
    newest_of_page = (start + timedelta(milliseconds=10 * 999)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert f'timestamp>="{newest_of_page}Z"' in second["filter"]
