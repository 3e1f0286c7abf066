"""``mlx open``: the console URL on stdout; a browser only with ``--web``. (The URL of each
cloud's jobs is checked on the emulated clouds: tests/backends/*/test_everyday.py.)"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlx.model import JobKind, JobRecord, JobState
from mlx.store import Store
from tests.conftest import subprocess_env

URL = "https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1"


def stored(job_id: str, native: str | None, **fields: Any) -> None:
    now = time.time()
    record = JobRecord(
        job_id, "sagemaker", "x", JobState.RUNNING, {}, now, now,
        native_id=native, location={"region": "eu-west-1"}, **fields,
    )  # fmt: skip
    Store.default().insert(record)


def test_web_opens_the_page_in_the_browser_and_prints_it(tmp_path: Path) -> None:
    stored("tune-abc123", "tune-abc123", kind=JobKind.TUNING)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f"#!/bin/sh\nprintf '%s' \"$1\" > {opened}\n")
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    env = subprocess_env(BROWSER=str(browser))
    argv = [sys.executable, "-m", "mlx", "open", "tune-abc123"]
    plain = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert plain.stdout == f"{URL}#/hyper-tuning-jobs/tune-abc123\n", plain.stderr
    assert not opened.exists()  # only when asked
    web = subprocess.run([*argv, "--web"], env=env, capture_output=True, text=True, timeout=60)
    assert web.returncode == 0, web.stderr
    deadline = time.monotonic() + 10
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert opened.read_text() == f"{URL}#/hyper-tuning-jobs/tune-abc123"


def test_json_and_jobs_without_a_page(mlx: Any) -> None:
    stored("train-abc123", "train-abc123")
    shown = json.loads(mlx("open", "train-abc123", "--json").stdout)
    assert shown == {"id": "train-abc123", "url": f"{URL}#/jobs/train-abc123"}
    stored("never-abc123", None)
    never = mlx("open", "never-abc123")
    assert never.exit_code == 1
    assert never.stderr.startswith("Error: never-abc123 has no console page: sagemaker never")
