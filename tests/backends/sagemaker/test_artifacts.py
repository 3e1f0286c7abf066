"""Artifacts of mlx's jobs (file by file) and of jobs mlx did not launch (model.tar.gz)."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.backends.contract import started
from tests.backends.sagemaker.conftest import (
    BUCKET,
    GROUP,
    ROLE,
    now_ms,
    put_object,
    sagemaker_spec,
)
from tests.emulators.aws import AwsServer


def test_listing_uses_neutral_names_and_skips_files_already_pulled(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = started(mlx("train", sagemaker_spec(tmp_path), "--detach").stderr)
    put_object(sm, f"mlx/{job}/{job}/output/model/weights.bin", b"w" * 100)
    put_object(sm, f"mlx/{job}/{job}/output/output.tar.gz", b"o" * 10)
    put_object(sm, f"mlx/{job}/checkpoints/step-1.pt", b"c" * 7)
    listing = json.loads(mlx("pull-artifacts", job, "--list", "--json").stdout)
    assert [(a["path"], a["size"]) for a in listing] == [
        ("checkpoints/step-1.pt", 7),
        ("model/weights.bin", 100),
        ("output/output.tar.gz", 10),
    ]  # mlx's staging (_mlx/) is not an artifact

    big = os.urandom(11 << 20)  # a multipart upload: ETag "<md5 of md5s>-3"
    path = tmp_path / "big.bin"
    path.write_bytes(big)
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
    key = f"mlx/{job}/checkpoints/big.bin"
    sm.client("s3").upload_file(str(path), BUCKET, key, Config=config)
    dest = tmp_path / "pulled"
    pulled = mlx("pull-artifacts", job, "-i", "checkpoints", "--dest", dest, "--json")
    assert pulled.exit_code == 0, pulled.stderr
    first = json.loads(pulled.stdout)
    assert first["downloaded"] == ["checkpoints/big.bin", "checkpoints/step-1.pt"]
    assert (dest / "checkpoints" / "big.bin").read_bytes() == big
    again = json.loads(
        mlx("pull-artifacts", job, "-i", "checkpoints", "--dest", dest, "--json").stdout
    )
    assert (again["downloaded"], again["skipped"]) == (
        [],
        ["checkpoints/big.bin", "checkpoints/step-1.pt"],
    )


def test_a_download_cut_mid_file_resumes_where_it_stopped(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = started(mlx("train", sagemaker_spec(tmp_path), "--detach").stderr)
    data = os.urandom(3 << 20)
    put_object(sm, f"mlx/{job}/{job}/output/model/model.bin", data)
    sm.plan.add(
        f"S3 GET /{BUCKET}/mlx/{job}/{job}/output/model/model.bin", "reset", after_bytes=1 << 20
    )
    dest = tmp_path / "pulled"
    result = mlx("pull-artifacts", job, "-i", "model/model.bin", "--dest", dest)
    assert result.exit_code == 0, result.stderr
    assert (dest / "model" / "model.bin").read_bytes() == data
    assert sm.plan.count(f"S3 GET /{BUCKET}/mlx/{job}/{job}/output/model/model.bin") == 2


def external_job(sm: AwsServer, name: str, status: str = "Completed") -> str:
    """A training job mlx did not launch; returns its model.tar.gz key."""
    sm.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            # SageMaker pulls from ECR only (the test server refuses others, as it does).
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/img:1",
            "TrainingInputMode": "File",
        },
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/ext"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    sm.set_training_job(name, status=status)
    return f"ext/{name}/output/model.tar.gz"


def tar_gz(members: list[tuple[str, Any]]) -> bytes:
    """(name, bytes) for files, (name, ("symlink", target)) for links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                archive.addfile(info)
            else:
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_a_job_mlx_did_not_launch_gives_only_the_members_asked_for(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    checkpoint = os.urandom(4 << 20)
    archive = tar_gz([("config.json", b'{"a": 1}'), ("ckpt/model.pt", checkpoint)])
    put_object(sm, external_job(sm, "ext-job"), archive)
    sm.put_log_lines(GROUP, "ext-job/algo-1-1700000000", [(now_ms(), "hello from ext")])

    status = json.loads(mlx("status", "sagemaker:ext-job", "--json").stdout)
    assert (status["state"], status["native_id"]) == ("succeeded", "ext-job")
    assert mlx("logs", "sagemaker:ext-job").stdout == "hello from ext\n"
    listing = json.loads(mlx("pull-artifacts", "sagemaker:ext-job", "--list", "--json").stdout)
    assert [(a["path"], a["size"]) for a in listing] == [
        ("config.json", 8),
        ("ckpt/model.pt", len(checkpoint)),
    ]
    dest = tmp_path / "ext"
    pulled = mlx(
        "pull-artifacts", "sagemaker:ext-job", "-i", "config.json", "--dest", dest, "--json"
    )
    result = json.loads(pulled.stdout)
    assert result["downloaded"] == ["config.json"]
    assert (dest / "config.json").read_bytes() == b'{"a": 1}'
    assert not (dest / "ckpt").exists()
    # Read to its end: only the gzip trailer proves the member arrived whole (issue #16).
    assert result["bytes"] == len(archive)
    pulled = mlx("pull-artifacts", "sagemaker:ext-job", "-i", "ckpt/*", "--dest", dest, "--json")
    assert (dest / "ckpt" / "model.pt").read_bytes() == checkpoint


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (("../evil", b"x"), "'../evil': a path with `..`"),
        (("/tmp/mlx-abs-evil", b"x"), "'/tmp/mlx-abs-evil': an absolute path"),
        (("model/link", ("symlink", "../../outside")), "'model/link': a link to '../../outside'"),
    ],
)
def test_a_hostile_archive_is_refused_and_nothing_lands_outside_dest(
    mlx: Any, sm: AwsServer, tmp_path: Path, member: tuple[str, Any], reason: str
) -> None:
    put_object(sm, external_job(sm, "ext-hostile"), tar_gz([("model/ok.txt", b"ok"), member]))
    dest = tmp_path / "work" / "dest"
    before = set(tmp_path.rglob("*"))
    result = mlx("pull-artifacts", "sagemaker:ext-hostile", "--dest", dest)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: refusing archive member {reason}"), result.stderr
    new = set(tmp_path.rglob("*")) - before
    assert {p for p in new if "mlx-home" not in p.parts} == set()  # --dest untouched (#16)
    assert not Path("/tmp/mlx-abs-evil").exists()
    assert not (dest / "model" / "ok.txt").exists()  # members before the refused one too


def test_cancel_and_unknown_jobs_mlx_did_not_launch(mlx: Any, sm: AwsServer) -> None:
    external_job(sm, "ext-running", status="InProgress")
    result = mlx("cancel", "sagemaker:ext-running")
    assert result.exit_code == 0, result.stderr
    assert sm.requests("StopTrainingJob") == [{"TrainingJobName": "ext-running"}]
    missing = mlx("status", "sagemaker:no-such-job")
    assert missing.exit_code == 1
    assert missing.stderr.startswith(
        "Error: SageMaker has no training job 'no-such-job' in us-east-1"
    )
