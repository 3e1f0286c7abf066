"""Issue #17 on Azure ML: the states a starting job is seen in, its studio link, and
durations from run history's own start and end times."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.backends.azure.conftest import Azure, azure_spec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+"


def test_a_starting_job_shows_each_state_it_is_seen_in(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    def seen(count: int) -> int:
        """Once mlx has asked for the job more than ``count`` times: how often (run
        history's details, where a submitted job's state comes from: ``direct``)."""
        asked = "GET runs/details"
        deadline = time.monotonic() + 20
        while len(azure.server.requests(asked)) <= count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(azure.server.requests(asked))

    def play() -> None:
        name = azure.wait_for_job()
        seen(0)
        for status in ("Preparing", "Queued", "Running"):  # the order Azure ML moves in
            azure.server.set_status(name, status)
            # a look that arrived after the change (one on its way may get the state before)
            seen(len(azure.server.requests("GET runs/details")))
        azure.log(name, ["epoch 1"])
        azure.server.set_status(name, "Completed")

    threading.Thread(target=play, daemon=True).start()
    result = mlx("train", azure_spec(tmp_path))
    assert result.exit_code == 0, result.stderr
    job = json.loads(mlx("jobs", "--json").stdout)[0]
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Instance: ")  # said before the submit
    assert lines[1].startswith(f"Started {job['id']} on azure")
    server = azure.server
    assert lines[2] == (
        f"Console: https://ml.azure.com/runs/{job['native_id']}?wsid=/subscriptions/"
        f"{server.subscription_id}/resourcegroups/{server.resource_group}/workspaces/"
        f"{server.workspace}"
    )
    states = [re.fullmatch(rf"{STAMP} (\w+)", line) for line in lines[3:7]]
    assert [m.group(1) if m else None for m in states] == [
        "NotStarted", "Preparing", "Queued", "Running"
    ], lines  # fmt: skip
    assert result.stdout == "epoch 1\n"
    # Its duration is run history's, from its start to its end.
    assert job["ended_at"] is not None
