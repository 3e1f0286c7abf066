"""Retries that hold and downloads that never corrupt, on every cloud backend.

Faults come from the test servers (``tests/emulators/faults.py``): a burst that ends must
be ridden out; faults that never end must fail the command quickly with one line naming
the call; a body corrupted or cut mid-way must never reach the destination.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import subprocess_env
from tests.reliability.clouds import Cloud, cloud_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLOUDS = ("sagemaker", "vertex", "azure")
GIVE_UP_SECONDS = 30  # generous: with the fixtures' short backoffs it takes a few seconds
WEIGHTS = bytes(range(256)) * 256  # 64 KiB
BIG = os.urandom(4 << 20)  # a few MiB: large enough to be cut mid-body


@pytest.fixture(params=CLOUDS)
def cloud(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    chosen = cloud_for(request, request.param)
    if request.param == "vertex":
        # The gcp fixture retries for up to 5 s per call; 1 s keeps "never ends" short.
        monkeypatch.setenv("MLX_PACING", "fast,retry_total=1")
    return chosen


def detach(mlx: Any, cloud: Cloud, tmp_path: Path) -> dict[str, Any]:
    result = mlx("train", cloud.spec(tmp_path), "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def running_job(mlx: Any, cloud: Cloud, tmp_path: Path) -> dict[str, Any]:
    """A running job with two log lines and one artifact, ``model/weights.bin``."""
    job = detach(mlx, cloud, tmp_path)
    cloud.run(job)
    cloud.log(job, ["epoch 1", "epoch 2"])
    cloud.put(job, "model/weights.bin", WEIGHTS)
    return job


def command_for(call: str, job: dict[str, Any], tmp_path: Path) -> tuple[str, ...]:
    """The mlx command a user runs that makes ``call``."""
    return {
        "status": ("status", job["id"], "--json"),
        "logs": ("logs", job["id"]),
        "jobs": ("jobs", "--json"),
        "list": ("pull-artifacts", job["id"], "--list", "--json"),
        "download": ("pull-artifacts", job["id"], "--dest", tmp_path / "pulled", "--json"),
    }[call]


def error_line(stderr: str) -> str:
    """The one ``Error:`` line of a failed command (a progress bar may leave a blank line)."""
    (line,) = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    return line


def files_under(root: Path) -> list[str]:
    """Every file below ``root``, hidden part files included, relative and sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- a burst of faults that ends ---------------------------------------------------------

# `mlx jobs` refreshes from one server-side listing where the backend has one
# (Backend.list_states); SageMaker's shows the stored states and makes no call to disturb.
LISTING_CLOUDS = ("vertex", "azure")
# What tests/backends does not already cover: there, status and logs ride out bursts on
# every cloud, Vertex's artifact listing and download too.
BURSTS = [
    *[(c, "jobs") for c in LISTING_CLOUDS],
    ("sagemaker", "list"),
    ("azure", "list"),
    ("sagemaker", "download"),
    ("azure", "download"),
]


@pytest.mark.parametrize(("cloud", "call"), BURSTS, indirect=["cloud"])
def test_a_burst_of_throttling_and_503s_is_ridden_out(
    mlx: Any, cloud: Cloud, call: str, tmp_path: Path
) -> None:
    job = running_job(mlx, cloud, tmp_path)
    plan, operation = cloud.fault_target(call, job, "model/weights.bin")
    plan.add(operation, "throttle", times=2)
    plan.add(operation, "error", status=503, times=2)
    result = mlx(*command_for(call, job, tmp_path))
    assert result.exit_code == 0, result.stderr
    assert all(f.fired == f.times for f in plan.faults)
    if call == "jobs":
        listed = json.loads(result.stdout)
        assert [(j["id"], j["state"]) for j in listed] == [(job["id"], "running")]
        assert "shown as last seen" not in result.stderr
    elif call == "list":
        listed = json.loads(result.stdout)
        assert [(a["path"], a["size"]) for a in listed] == [("model/weights.bin", len(WEIGHTS))]
    else:
        assert (tmp_path / "pulled" / "model" / "weights.bin").read_bytes() == WEIGHTS


def test_a_burst_of_faults_on_submit_is_ridden_out(mlx: Any, cloud: Cloud, tmp_path: Path) -> None:
    plan, operation = cloud.fault_target("submit", {})
    plan.add(operation, "error", status=503, times=2)
    job = detach(mlx, cloud, tmp_path)
    assert all(f.fired == f.times for f in plan.faults)
    status = json.loads(mlx("status", job["id"], "--json").stdout)
    assert (status["id"], status["state"]) == (job["id"], "pending")


# --- faults that never end ---------------------------------------------------------------

# The call named in the error line, in the provider's own words.
NAMED = {
    "sagemaker": {
        "submit": "CreateTrainingJob",
        "status": "DescribeTrainingJob",
        "logs": "FilterLogEvents",
        "list": "listing s3://mlx-test-bucket/",
        "download": "downloading s3://mlx-test-bucket/",
    },
    "vertex": {
        "submit": "CreateCustomJob",
        "status": "GetCustomJob",
        "logs": "ListLogEntries",
        "jobs": "ListCustomJobs",
        "list": "listing gs://mlx-test/",
        "download": "downloading gs://mlx-test/",
    },
    "azure": {
        "submit": "creating job",
        "status": "run details of",  # run history (mlx.backends.azure.direct)
        "logs": "listing log files",
        "jobs": "jobs.list",
        "list": "listing mlx/",
        "download": "downloading model/weights.bin",
    },
}


@pytest.mark.parametrize("call", ["status", "logs", "list", "download"])
def test_faults_that_never_end_fail_fast_naming_the_call(
    mlx: Any, cloud: Cloud, call: str, tmp_path: Path
) -> None:
    job = running_job(mlx, cloud, tmp_path)
    plan, operation = cloud.fault_target(call, job, "model/weights.bin")
    plan.add(operation, "error", status=503, times=1000)
    began = time.monotonic()
    result = mlx(*command_for(call, job, tmp_path))
    assert time.monotonic() - began < GIVE_UP_SECONDS
    assert result.exit_code == 1
    assert NAMED[cloud.name][call] in error_line(result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    if call == "download":
        assert files_under(tmp_path / "pulled") == []


def test_a_submit_that_never_gets_through_fails_fast_and_is_recorded_failed(
    mlx: Any, cloud: Cloud, tmp_path: Path
) -> None:
    plan, operation = cloud.fault_target("submit", {})
    plan.add(operation, "error", status=503, times=1000)
    began = time.monotonic()
    result = mlx("train", cloud.spec(tmp_path), "--detach")
    assert time.monotonic() - began < GIVE_UP_SECONDS
    assert result.exit_code == 1
    assert NAMED[cloud.name]["submit"] in error_line(result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    listed = json.loads(mlx("jobs", "--json").stdout)
    assert [j["state"] for j in listed] == ["failed"]


@pytest.mark.parametrize("cloud", LISTING_CLOUDS, indirect=True)
def test_a_job_listing_that_never_gets_through_shows_the_stored_state(
    mlx: Any, cloud: Cloud, tmp_path: Path
) -> None:
    """`mlx jobs` is how a user sees what they launched while a cloud is down: it lists
    what the store knows, with one warning naming the call, instead of failing."""
    job = running_job(mlx, cloud, tmp_path)
    plan, operation = cloud.fault_target("jobs", job)
    plan.add(operation, "error", status=503, times=1000)
    began = time.monotonic()
    result = mlx("jobs", "--json")
    assert time.monotonic() - began < GIVE_UP_SECONDS
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(j["id"], j["state"]) for j in listed] == [(job["id"], "pending")]
    (warning,) = [line for line in result.stderr.splitlines() if "last seen" in line]
    assert f"{cloud.name} jobs are shown as last seen" in warning
    assert NAMED[cloud.name]["jobs"] in warning
    assert "Traceback" not in result.stderr


# --- downloads never corrupt -------------------------------------------------------------


def test_corrupted_bytes_are_refused_and_a_retry_gets_them_whole(
    mlx: Any, cloud: Cloud, tmp_path: Path
) -> None:
    job = running_job(mlx, cloud, tmp_path)
    plan, operation = cloud.fault_target("download", job, "model/weights.bin")
    plan.add(operation, "corrupt")
    dest = tmp_path / "pulled"
    result = mlx("pull-artifacts", job["id"], "--dest", dest)
    assert result.exit_code == 1
    bad = bytes([WEIGHTS[0] ^ 0xFF]) + WEIGHTS[1:]
    mismatch = cloud.mismatch(job, "model/weights.bin", WEIGHTS, bad)
    assert error_line(result.stderr) == f"Error: {mismatch}"
    assert files_under(dest) == []  # not even a part file

    again = mlx("pull-artifacts", job["id"], "--dest", dest, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["downloaded"] == ["model/weights.bin"]
    assert (dest / "model" / "weights.bin").read_bytes() == WEIGHTS


@pytest.mark.parametrize("cloud", ["sagemaker"], indirect=True)
def test_an_s3_object_without_its_own_crc_is_checked_against_its_etag(
    mlx: Any, cloud: Cloud, tmp_path: Path
) -> None:
    """Objects uploaded without a flexible checksum (older SDKs, SageMaker's own uploads)
    give botocore nothing to check: mlx compares the file's MD5 with the ETag."""
    from tests.backends.sagemaker.conftest import BUCKET

    job = running_job(mlx, cloud, tmp_path)
    plain = cloud.sm.client("s3", request_checksum_calculation="when_required")
    key = f"mlx/{job['id']}/{job['native_id']}/output/model/plain.bin"
    plain.put_object(Bucket=BUCKET, Key=key, Body=WEIGHTS)
    plan, operation = cloud.fault_target("download", job, "model/plain.bin")
    plan.add(operation, "corrupt")
    dest = tmp_path / "pulled"
    result = mlx("pull-artifacts", job["id"], "-i", "model/plain.bin", "--dest", dest)
    assert result.exit_code == 1
    bad = bytes([WEIGHTS[0] ^ 0xFF]) + WEIGHTS[1:]
    assert error_line(result.stderr) == (
        f"Error: checksum mismatch for model/plain.bin: expected {hashlib.md5(WEIGHTS).hexdigest()}"
        f", got {hashlib.md5(bad).hexdigest()}; nothing was written"
    )
    assert files_under(dest) == []


def test_a_reset_mid_file_leaves_nothing_and_a_rerun_fetches_only_that_file(
    mlx: Any, cloud: Cloud, tmp_path: Path
) -> None:
    job = running_job(mlx, cloud, tmp_path)
    cloud.put(job, "model/big.bin", BIG)
    dest = tmp_path / "pulled"
    first = mlx("pull-artifacts", job["id"], "-i", "model/weights.bin", "--dest", dest)
    assert first.exit_code == 0, first.stderr
    fetched = cloud.fetches(job, "model/weights.bin")
    assert fetched > 0

    plan, operation = cloud.fault_target("download", job, "model/big.bin")
    # Cut halfway, then the network stays down (SDKs resume a cut read: it must fail too).
    plan.add(operation, "reset", after_bytes=len(BIG) // 2)
    down = plan.add(operation, "error", status=503, times=1000)
    cut_short = mlx("pull-artifacts", job["id"], "--dest", dest)
    assert cut_short.exit_code == 1
    assert "Traceback" not in cut_short.stderr
    assert "model/big.bin" in error_line(cut_short.stderr)
    assert files_under(dest) == ["model/weights.bin"]  # no big.bin, no .big.bin.mlx-part-*

    down.times = down.fired  # the network is back
    rerun = mlx("pull-artifacts", job["id"], "--dest", dest, "--json")
    assert rerun.exit_code == 0, rerun.stderr
    pulled = json.loads(rerun.stdout)
    assert (pulled["downloaded"], pulled["skipped"]) == (["model/big.bin"], ["model/weights.bin"])
    assert (dest / "model" / "big.bin").read_bytes() == BIG
    assert cloud.fetches(job, "model/weights.bin") == fetched  # the whole file: not again
    assert files_under(dest) == ["model/big.bin", "model/weights.bin"]


# --- Ctrl-C ------------------------------------------------------------------------------


@pytest.mark.parametrize("cloud", ["sagemaker"], indirect=True)
def test_ctrl_c_while_following_a_cloud_job_detaches_with_exit_130(
    mlx: Any, cloud: Cloud, tmp_path: Path
) -> None:
    job = running_job(mlx, cloud, tmp_path)
    follow = subprocess.Popen(
        [sys.executable, "-m", "mlx", "logs", "-f", job["id"]],
        env=subprocess_env(),  # this test's MLX_HOME and its test server's endpoints
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    guard = threading.Timer(30, follow.kill)  # a follower that never prints fails, not hangs
    guard.start()
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline() == "epoch 1\n"  # it is following: now interrupt it
        follow.send_signal(signal.SIGINT)
        began = time.monotonic()
        code = follow.wait(timeout=10)
        stderr = follow.stderr.read() if follow.stderr else ""
    finally:
        guard.cancel()
        follow.kill()
    assert code == 130
    assert time.monotonic() - began < 5
    assert stderr.splitlines()[-2:] == [
        f"Stopped following {job['id']}; the job keeps running.",  # news, not an `Error:`
        f"Reattach with `mlx logs -f {job['id']}`; stop it with `mlx cancel {job['id']}`.",
    ]
    status = json.loads(mlx("status", job["id"], "--json").stdout)
    assert status["state"] == "running"
