"""Pulling one small file from a job with a large checkpoint: bytes mlx reads from S3.

    python bench/sagemaker_artifacts.py [--checkpoint-mb 500] [--write]

A job holds a 10 KB ``metrics.json`` and a ``--checkpoint-mb`` checkpoint. Compared:

- baseline: downloading the job's ``model.tar.gz`` (both files) whole, one GET;
- mlx, on its own job (``CompressionType: NONE``, one S3 object per file):
  ``pull-artifacts -i model/metrics.json``;
- mlx, on a job it did not launch (``sagemaker:<name>``, the same ``model.tar.gz``):
  ``pull-artifacts -i metrics.json`` streams the archive and stops once the member is out.

Bytes are what the client read from response bodies (for the archive, what ``tarfile``
consumed: the kernel's receive buffer may have held up to a few hundred KB more).
"""

from __future__ import annotations

import argparse
import io
import os
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from sagemaker_common import append_results, machine, start_server

BUCKET = "bench"
JOB = "bench-art-abc123"
EXTERNAL = "bench-external"
METRICS = os.urandom(5 * 1024).hex().encode()  # 10 KB


def setup(server: Any, checkpoint_mb: int, scratch: Path) -> int:
    """Both jobs' objects; returns the size of model.tar.gz."""
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    checkpoint = scratch / "ckpt.pt"
    with open(checkpoint, "wb") as f:
        for _ in range(checkpoint_mb):
            f.write(os.urandom(1 << 20))
    s3.put_object(Bucket=BUCKET, Key=f"mlx/{JOB}/{JOB}/output/model/metrics.json", Body=METRICS)
    s3.upload_file(str(checkpoint), BUCKET, f"mlx/{JOB}/checkpoints/ckpt.pt")
    archive = scratch / "model.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("metrics.json")
        info.size = len(METRICS)
        tar.addfile(info, io.BytesIO(METRICS))
        tar.add(checkpoint, "ckpt.pt")
    boto3.client("sagemaker").create_training_job(
        TrainingJobName=EXTERNAL,
        AlgorithmSpecification={"TrainingImage": "img:1", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/ext"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    server.set_training_job(EXTERNAL, status="Completed")
    s3.upload_file(str(archive), BUCKET, f"ext/{EXTERNAL}/output/model.tar.gz")
    return archive.stat().st_size


def whole_archive() -> int:
    import boto3

    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"ext/{EXTERNAL}/output/model.tar.gz")
    return sum(len(chunk) for chunk in body["Body"].iter_chunks(1 << 20))


def timed(name: str, action: Any) -> tuple[str, int, float]:
    started = time.perf_counter()
    read = action()
    return name, read, time.perf_counter() - started


def pull(ref: str, pattern: str, dest: Path) -> int:
    from mlx import lifecycle, lookup
    from mlx.store import Store

    store = Store.default()
    record = lookup.find_job(store, ref)
    result = lifecycle.pull(record, [pattern], [], dest, show_progress=False)
    assert (dest / pattern).read_bytes() == METRICS
    return result.bytes


def own_job_record() -> None:
    """The store row `mlx train` would have written for JOB."""
    from mlx.model import JobRecord, JobState
    from mlx.store import Store

    now = time.time()
    Store.default().insert(
        JobRecord(
            id=JOB,
            provider="sagemaker",
            name="bench-art",
            state=JobState.SUCCEEDED,
            spec={"sagemaker": {"region": "us-east-1"}},
            created_at=now,
            updated_at=now,
            native_id=JOB,
            location={"region": "us-east-1", "bucket": BUCKET, "prefix": "mlx"},
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint-mb", type=int, default=500)
    parser.add_argument("--write", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="mlx-bench-"))
    os.environ["MLX_HOME"] = str(scratch / "home")
    os.environ["MLX_CONFIG"] = str(scratch / "config.yaml")
    (scratch / "config.yaml").write_text("sagemaker: {region: us-east-1}\n")
    server = start_server()
    try:
        archive_size = setup(server, args.checkpoint_mb, scratch)
        own_job_record()
        rows = [
            timed("download model.tar.gz whole (baseline)", whole_archive),
            timed(
                "mlx `pull-artifacts -i model/metrics.json` (mlx's job)",
                lambda: pull(JOB, "model/metrics.json", scratch / "own"),
            ),
            timed(
                "mlx `pull-artifacts -i metrics.json` (`sagemaker:<name>`, model.tar.gz)",
                lambda: pull(f"sagemaker:{EXTERNAL}", "metrics.json", scratch / "ext"),
            ),
        ]
    finally:
        server.stop()
    report(args.checkpoint_mb, archive_size, rows, args.write)


def report(checkpoint_mb: int, archive_size: int, rows: list[Any], write: bool) -> None:
    table = [
        "| what | bytes read | × the 10 KB file | seconds |",
        "|---|---:|---:|---:|",
    ]
    for name, read, seconds in rows:
        table.append(f"| {name} | {read:,} | {read / len(METRICS):,.2f} | {seconds:.2f} |")
    section = "\n".join(
        [
            f"## SageMaker artifacts — `python bench/sagemaker_artifacts.py --checkpoint-mb "
            f"{checkpoint_mb}`",
            "",
            machine(),
            "",
            f"One 10,240-byte file beside a {checkpoint_mb} MB checkpoint; model.tar.gz is "
            f"{archive_size:,} bytes.",
            "",
            *table,
            "",
            "Target: bytes ≤ 1.05× the file. Listing adds one ListObjectsV2 (mlx's job) or "
            "one DescribeTrainingJob (the other job); neither carries file data.",
        ]
    )
    print(section)
    if write:
        append_results(section)


if __name__ == "__main__":
    main()
