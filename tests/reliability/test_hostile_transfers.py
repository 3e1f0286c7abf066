"""Transport faults and hostile listings during logs and pulls: one clear line, nothing
half-written, never a traceback (issue #16: items 2, 4-7)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.backends.sagemaker.conftest import BUCKET, ROLE
from tests.backends.sagemaker.test_artifacts import tar_gz
from tests.emulators.aws import AwsServer
from tests.reliability.clouds import SageMaker
from tests.reliability.test_retries import files_under


def _job(mlx: Any, sm: AwsServer, tmp_path: Path) -> dict[str, Any]:
    cloud = SageMaker(sm)
    result = mlx("train", cloud.spec(tmp_path), "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    cloud.run(job)
    cloud.log(job, ["epoch 1", "epoch 2"])
    return job


def test_a_corrupted_log_answer_is_one_line_naming_the_call(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = _job(mlx, sm, tmp_path)
    sm.plan.add("FilterLogEvents", "corrupt", times=100)
    result = mlx("logs", job["id"])
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert "FilterLogEvents" in line


# --- foreign archives: verified to the end, nothing half-written ------------------------


def _external(sm: AwsServer, name: str, archive: bytes, *, s3_checksum: bool = True) -> None:
    """A completed training job mlx did not launch, whose model.tar.gz is ``archive``."""
    sm.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/ext"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    sm.set_training_job(name, status="Completed")
    key = f"ext/{name}/output/model.tar.gz"
    if s3_checksum:  # botocore's default: S3 keeps a CRC of the object
        sm.client("s3").put_object(Bucket=BUCKET, Key=key, Body=archive)
        return
    plain = sm.client("s3", request_checksum_calculation="when_required")
    plain.put_object(Bucket=BUCKET, Key=key, Body=archive)


IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainer:1"


def _pull(mlx: Any, ref: str, dest: Path, *args: str) -> Any:
    return mlx("pull-artifacts", ref, "--dest", dest, *args)


def _checkpoint_archive() -> tuple[bytes, bytes]:
    checkpoint = os.urandom(1 << 20)  # stored, not compressed: a flipped byte goes unnoticed
    return tar_gz([("ckpt/model.pt", checkpoint), ("config.json", b"{}")]), checkpoint


def test_an_archive_corrupted_at_rest_is_refused_and_nothing_written(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    archive, _ = _checkpoint_archive()
    flipped = bytearray(archive)
    flipped[len(archive) // 2] ^= 0xFF  # inside the checkpoint's bytes
    _external(sm, "rotten", bytes(flipped))
    dest = tmp_path / "out"
    result = _pull(mlx, "sagemaker:rotten", dest, "-i", "ckpt/model.pt")
    assert result.exit_code == 1
    assert "is corrupt or cut short" in result.stderr and "Traceback" not in result.stderr
    assert files_under(dest) == []


@pytest.mark.parametrize("s3_checksum", [True, False], ids=["s3-checksum", "no-s3-checksum"])
def test_an_archive_corrupted_in_transit_is_refused_and_a_retry_gets_it_whole(
    mlx: Any, sm: AwsServer, tmp_path: Path, s3_checksum: bool
) -> None:
    archive, checkpoint = _checkpoint_archive()
    _external(sm, "flaky", archive, s3_checksum=s3_checksum)
    sm.plan.add(f"S3 GET /{BUCKET}/ext/flaky/output/model.tar.gz", "corrupt", at=len(archive) // 2)
    dest = tmp_path / "out"
    result = _pull(mlx, "sagemaker:flaky", dest, "-i", "ckpt/model.pt")
    assert result.exit_code == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert files_under(dest) == []
    again = _pull(mlx, "sagemaker:flaky", dest, "-i", "ckpt/model.pt")
    assert again.exit_code == 0, again.stderr
    assert (dest / "ckpt" / "model.pt").read_bytes() == checkpoint


def test_members_before_a_refused_one_are_not_left_behind(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    _external(sm, "mixed", tar_gz([("good.txt", b"fine"), ("../evil", b"x")]))
    dest = tmp_path / "out"
    result = _pull(mlx, "sagemaker:mixed", dest)
    assert result.exit_code == 1 and "'../evil'" in result.stderr
    assert files_under(dest) == []


def test_a_member_given_twice_is_written_once_the_last_wins(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    _external(sm, "twice", tar_gz([("a.txt", b"first"), ("a.txt", b"second")]))
    dest = tmp_path / "out"
    result = _pull(mlx, "sagemaker:twice", dest, "--json")
    assert json.loads(result.stdout)["downloaded"] == ["a.txt"]
    assert (dest / "a.txt").read_bytes() == b"second"


def test_a_decompression_bomb_is_refused(mlx: Any, sm: AwsServer, tmp_path: Path) -> None:
    bomb = gzip.compress(_tar_header("zeros.bin", 1 << 30) + b"\0" * (96 << 20), 9)
    _external(sm, "bomb", bomb)
    dest = tmp_path / "out"
    result = _pull(mlx, "sagemaker:bomb", dest)
    assert result.exit_code == 1
    assert "refusing it as a decompression bomb" in result.stderr
    assert files_under(dest) == []


def _tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(tarfile.GNU_FORMAT)


# --- hostile names and file-system conflicts --------------------------------------------


@pytest.mark.parametrize("name", [".", "model/.", "./"])
def test_a_member_naming_the_destination_itself_is_refused(
    mlx: Any, sm: AwsServer, tmp_path: Path, name: str
) -> None:
    _external(sm, "dot", tar_gz([(name, b"overwrite --dest")]))
    dest = tmp_path / "out"
    dest.mkdir()
    result = _pull(mlx, "sagemaker:dot", dest)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert dest.is_dir() and files_under(dest) == []


def test_members_that_are_a_file_and_a_directory_of_each_other_are_refused(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    _external(sm, "clash", tar_gz([("model", b"file"), ("model/x.txt", b"in a dir")]))
    dest = tmp_path / "out"
    result = _pull(mlx, "sagemaker:clash", dest)
    assert result.exit_code == 1 and "conflict" in result.stderr
    assert "Traceback" not in result.stderr
    assert files_under(dest) == []


def _own_job(mlx: Any, sm: AwsServer, tmp_path: Path, files: dict[str, bytes]) -> str:
    cloud = SageMaker(sm)
    job = _job(mlx, sm, tmp_path)
    for path, data in files.items():
        cloud.put(job, path, data)
    return str(job["id"])


@pytest.mark.parametrize("key", ["model/..", "model/."])
def test_a_listing_key_naming_the_destination_is_refused(
    mlx: Any, sm: AwsServer, tmp_path: Path, key: str
) -> None:
    job = _own_job(mlx, sm, tmp_path, {key: b"x", "model/ok.txt": b"ok"})
    dest = tmp_path / "out"
    result = _pull(mlx, job, dest)
    assert result.exit_code == 1 and "refusing artifact path" in result.stderr
    assert not dest.exists() or files_under(dest) == []


def test_listing_keys_that_are_a_file_and_a_directory_are_refused(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = _own_job(mlx, sm, tmp_path, {"model/a": b"file", "model/a/b": b"below it"})
    result = _pull(mlx, job, tmp_path / "out")
    assert result.exit_code == 1 and "conflict" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_name_too_long_for_the_file_system_is_one_line(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = _own_job(mlx, sm, tmp_path, {"model/" + "n" * 300: b"x"})
    dest = tmp_path / "out"
    result = _pull(mlx, job, dest)
    assert result.exit_code == 1
    assert "cannot write" in result.stderr and "File name too long" in result.stderr
    assert files_under(dest) == []


@pytest.mark.parametrize("where", ["a-file", "/dev/null"])
def test_a_dest_that_is_not_a_directory_is_one_line(
    mlx: Any, sm: AwsServer, tmp_path: Path, where: str
) -> None:
    job = _own_job(mlx, sm, tmp_path, {"model/ok.txt": b"ok"})
    dest = tmp_path / where if where == "a-file" else Path(where)
    if where == "a-file":
        dest.write_text("mine")
    result = _pull(mlx, job, dest)
    assert result.exit_code == 1
    assert "exists and is not a directory" in result.stderr
    if where == "a-file":
        assert dest.read_text() == "mine"


# --- interrupting a pull ----------------------------------------------------------------


def test_ctrl_c_mid_pull_stops_at_once_and_leaves_no_part_file(
    sm: AwsServer, tmp_path: Path
) -> None:
    from tests.conftest import subprocess_env

    job = _own_job_cli(sm, tmp_path)
    sm.plan.add(f"S3 GET /{BUCKET}/mlx/{job['id']}/*", "slow", delay=6.0, times=10)
    dest = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-m", "mlx", "pull-artifacts", job["id"], "--dest", str(dest)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: sm.plan.count(f"S3 GET /{BUCKET}/mlx/{job['id']}/*") > 0)
    began = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert time.monotonic() - began < 3.0  # not the 6 s the answer takes
    assert child.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert files_under(dest) == []


def test_a_part_file_left_by_a_killed_pull_is_swept(sm: AwsServer, tmp_path: Path) -> None:
    job = _own_job_cli(sm, tmp_path)
    dest = tmp_path / "out"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = dest / "model" / f".weights.bin.mlx-part-{dead.stdout.strip()}-1"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a file")
    result = subprocess.run(
        [sys.executable, "-m", "mlx", "pull-artifacts", job["id"], "--dest", str(dest)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert files_under(dest) == ["model/weights.bin"]


def _env() -> dict[str, str]:
    from tests.conftest import subprocess_env

    return subprocess_env()


def _own_job_cli(sm: AwsServer, tmp_path: Path) -> dict[str, Any]:
    """A running job with one artifact, submitted by a real `mlx` process."""
    cloud = SageMaker(sm)
    done = subprocess.run(
        [sys.executable, "-m", "mlx", "train", str(cloud.spec(tmp_path)), "--detach", "--json"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    job: dict[str, Any] = json.loads(done.stdout)
    cloud.run(job)
    cloud.put(job, "model/weights.bin", os.urandom(64 << 10))
    return job


def _wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (user namespaces)")
def test_a_full_disk_during_extraction_is_one_line_and_leaves_nothing(
    sm: AwsServer, tmp_path: Path
) -> None:
    """--dest on a 256 KiB file system (a tmpfs in a user+mount namespace) and a 1 MiB
    member: ENOSPC mid-member."""
    _external(sm, "big", tar_gz([("ckpt/model.pt", os.urandom(1 << 20))]))
    dest = tmp_path / "small"
    dest.mkdir()
    pull = f"{sys.executable} -m mlx pull-artifacts sagemaker:big --dest {dest}"
    script = (
        f"mount -t tmpfs -o size=256k tmpfs {dest} && {pull}; code=$?; ls -A {dest}; exit $code"
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.strip() == ""  # nothing left on the full file system
