"""Reading a SageMaker job's logs: mlx against a plain boto3 ``get_log_events`` loop.

    python bench/sagemaker_logs.py [--lines 100000] [--runs 3] [--write]

A finished two-node job with ``--lines`` lines in two CloudWatch streams. mlx reads them
with ``FilterLogEvents`` by stream prefix (one call per page whatever the node count, lines
merged by time), once as ``mlx logs`` and once as ``mlx logs -f`` (which also asks for the
job's state and makes a final read); the baseline reads each stream with ``GetLogEvents``
until the forward token repeats, as the SageMaker SDK's ``logs_for_job`` does, and does not
merge. The ``sagemaker`` SDK itself is not installed here (about 1 GB with its
dependencies), so ``logs_for_job`` is not timed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

from sagemaker_common import append_results, machine, start_server

GROUP = "/aws/sagemaker/TrainingJobs"
JOB = "bench-logs-abc123"


def setup(server: Any, lines: int) -> int:
    """The job (Completed) and its two streams; returns the first timestamp (ms)."""
    import boto3

    boto3.client("sagemaker").create_training_job(
        TrainingJobName=JOB,
        AlgorithmSpecification={"TrainingImage": "img:1", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        OutputDataConfig={"S3OutputPath": "s3://bench/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    server.set_training_job(JOB, status="Completed")
    base = int(time.time() * 1000) - 2 * lines - 60_000
    for node in (0, 1):
        events = [(base + 2 * i + node, f"node {node} line {i}") for i in range(lines // 2)]
        server.put_log_lines(GROUP, f"{JOB}/algo-{node + 1}-1700000000", events)
    return base


def read_with_mlx(follow: bool, base_ms: int) -> int:
    from mlx.backends.sagemaker.backend import SageMakerBackend
    from mlx.model import JobRecord, JobState, LogQuery

    record = JobRecord(
        id=JOB,
        provider="sagemaker",
        name=JOB,
        state=JobState.SUCCEEDED,
        spec={"sagemaker": {"region": "us-east-1"}},
        created_at=base_ms / 1000,
        updated_at=time.time(),
        native_id=JOB,
        location={"region": "us-east-1", "bucket": "bench", "prefix": "mlx"},
    )
    return sum(1 for _ in SageMakerBackend().logs(record, LogQuery(follow=follow)))


def read_with_boto3(_base_ms: int) -> int:
    import boto3

    logs = boto3.client("logs")
    count = 0
    for node in (1, 2):
        request = {
            "logGroupName": GROUP,
            "logStreamName": f"{JOB}/algo-{node}-1700000000",
            "startFromHead": True,
        }
        while True:
            page = logs.get_log_events(**request)
            count += len(page["events"])
            if page["nextForwardToken"] == request.get("nextToken"):
                break
            request["nextToken"] = page["nextForwardToken"]
    return count


def measure(server: Any, read: Callable[[int], int], base: int, runs: int) -> dict[str, Any]:
    best = float("inf")
    for _ in range(runs):
        server.plan.calls.clear()
        started = time.perf_counter()
        lines = read(base)
        best = min(best, time.perf_counter() - started)
        calls = len(server.plan.calls)
    return {"lines": lines, "seconds": best, "calls": calls, "ops": sorted(set(server.plan.calls))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    server = start_server()
    try:
        base = setup(server, args.lines)
        rows = {
            "plain boto3 `get_log_events` loop, per stream (baseline)": measure(
                server, read_with_boto3, base, args.runs
            ),
            "mlx `logs` (FilterLogEvents by prefix, merged)": measure(
                server, lambda b: read_with_mlx(False, b), base, args.runs
            ),
            "mlx `logs -f` on the finished job": measure(
                server, lambda b: read_with_mlx(True, b), base, args.runs
            ),
        }
    finally:
        server.stop()
    baseline = next(iter(rows.values()))
    table = [
        "| reader | lines | API calls | best of runs s | lines/s | × baseline speed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in rows.items():
        rate = row["lines"] / row["seconds"]
        table.append(
            f"| {name} | {row['lines']} | {row['calls']} ({', '.join(row['ops'])}) | "
            f"{row['seconds']:.2f} | {rate:,.0f} | {baseline['seconds'] / row['seconds']:.2f} |"
        )
    section = "\n".join(
        [
            f"## SageMaker logs — `python bench/sagemaker_logs.py --lines {args.lines} "
            f"--runs {args.runs}`",
            "",
            machine(),
            "",
            f"A finished 2-node job, {args.lines} lines in 2 CloudWatch streams "
            "(CloudWatch's page sizes: 10,000 events for both calls).",
            "",
            *table,
            "",
            "Targets: at least as fast as the plain loop with fewer calls. The `sagemaker` SDK's "
            "`logs_for_job` was not measured: the SDK is not installed here (~1 GB).",
        ]
    )
    print(section)
    if args.write:
        append_results(section)


if __name__ == "__main__":
    main()
