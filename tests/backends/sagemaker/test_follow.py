"""Following a SageMaker job's CloudWatch logs (issue 19): nothing held back, nothing lost
or shown twice when an event becomes visible after newer ones, and one FilterLogEvents
call per poll whatever the node count."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.backends.contract import started
from tests.backends.sagemaker.conftest import GROUP, now_ms, sagemaker_spec
from tests.emulators.aws import AwsServer


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


def running_job(mlx: Any, sm: AwsServer, tmp_path: Path, nodes: int) -> str:
    job = started(
        mlx("train", sagemaker_spec(tmp_path, resources={"nodes": nodes}), "--detach").stderr
    )
    sm.set_training_job(job, status="InProgress")
    return job


def put(sm: AwsServer, job: str, node: int, events: list[tuple[int, str]]) -> None:
    sm.put_log_lines(GROUP, f"{job}/algo-{node + 1}-1700000000", events)


def in_background(play: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def test_a_late_event_is_shown_once_when_it_becomes_visible(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = running_job(mlx, sm, tmp_path, nodes=2)
    base = now_ms(-3)
    put(sm, job, 0, [(base + i, f"n0 early {i}") for i in range(3)])
    put(sm, job, 1, [(base + 1000, "n1 newest")])
    reads = lambda: len(sm.requests("FilterLogEvents"))  # noqa: E731

    def play() -> None:
        seen = reads()
        wait_until(lambda: reads() >= seen + 2)  # the history and one poll were read
        # Node 0's next lines reach CloudWatch after node 1's newer one was shown.
        put(sm, job, 0, [(base + 500 + i, f"n0 late {i}") for i in range(3)])
        seen = reads()
        wait_until(lambda: reads() >= seen + 3)
        put(sm, job, 1, [(now_ms(0), "n1 last")])
        seen = reads()
        wait_until(lambda: reads() >= seen + 3)
        sm.set_training_job(job, status="Completed")

    thread = in_background(play)
    result = mlx("logs", job, "-f")
    thread.join()
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    expected = [
        *(f"[node-0] n0 early {i}" for i in range(3)),
        "[node-1] n1 newest",
        *(f"[node-0] n0 late {i}" for i in range(3)),  # late: after the newer line
        "[node-1] n1 last",
    ]
    assert lines == expected
    assert Counter(lines) == Counter(set(lines))  # none shown twice


@pytest.mark.parametrize("nodes", [1, 16])
def test_one_filter_log_events_call_per_poll_whatever_the_nodes(
    mlx: Any, sm: AwsServer, tmp_path: Path, nodes: int
) -> None:
    job = running_job(mlx, sm, tmp_path, nodes=nodes)
    base = now_ms(-5)
    for node in range(nodes):
        put(sm, job, node, [(base + node, f"node {node} first")])
    before = {a: len(sm.requests(a)) for a in ("FilterLogEvents", "DescribeTrainingJob")}

    def play() -> None:
        wait_until(lambda: len(sm.requests("FilterLogEvents")) >= before["FilterLogEvents"] + 3)
        for node in range(nodes):
            put(sm, job, node, [(now_ms(0), f"node {node} second")])
        seen = len(sm.requests("FilterLogEvents"))
        wait_until(lambda: len(sm.requests("FilterLogEvents")) >= seen + 3)
        sm.set_training_job(job, status="Completed")

    thread = in_background(play)
    result = mlx("logs", job, "-f")
    thread.join()
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2 * nodes
    reads = sm.requests("FilterLogEvents")[before["FilterLogEvents"] :]
    polls = len(sm.requests("DescribeTrainingJob")) - before["DescribeTrainingJob"]
    # Every read is one call for all the job's streams: the history, then one per poll
    # (each poll asks the job's state once), and the last read after the end.
    assert {r["logStreamNamePrefix"] for r in reads} == {f"{job}/"}
    assert not any("logStreamNames" in r for r in reads)
    assert 5 <= len(reads) <= polls + 1
