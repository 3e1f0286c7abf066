"""SageMaker backend tests: the AWS test server (moto on 127.0.0.1), fast polling, helpers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import write
from tests.emulators.aws import AwsServer

BUCKET = "mlx-test-bucket"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1"
# One of AWS's framework images, which carry the training toolkit SageMaker's tuner needs
# (mlx.backends.sagemaker.framework_images): tuning with it uses SageMaker's tuner.
FRAMEWORK_IMAGE = (
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
)
GROUP = "/aws/sagemaker/TrainingJobs"
SETTINGS = {"role": ROLE, "bucket": BUCKET, "region": "us-east-1"}


@pytest.fixture
def sm(aws: AwsServer, monkeypatch: pytest.MonkeyPatch) -> AwsServer:
    """The AWS server with mlx's bucket, and mlx polling every few milliseconds."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("MLX_PACING", "fast")
    return aws


def sagemaker_spec(tmp_path: Path, **fields: Any) -> Path:
    """A SageMaker spec in ``tmp_path/project`` with a code dir; ``fields`` override."""
    write(tmp_path / "project" / "code" / "train.py", "print('training')\n")
    doc = {
        "name": "sm",
        "provider": "sagemaker",
        "image": IMAGE,
        "command": "python train.py",
        "code": "./code",
        "sagemaker": dict(SETTINGS),
        **fields,
    }
    return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))


def wait_for_request(aws: AwsServer, action: str, index: int = 0, timeout: float = 20) -> dict:
    """The ``index``-th ``action`` request the server received, once it has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = aws.requests(action)
        if len(found) > index:
            return found[index]
        time.sleep(0.01)
    raise AssertionError(f"no {action} request #{index} within {timeout}s")


def put_node_lines(aws: AwsServer, job: str, lines: dict[int, list[str]], base_ms: int) -> None:
    """Node ``n``'s lines in stream ``<job>/algo-<n+1>-...``, the nodes' lines interleaved
    in time (node 0 first at each step)."""
    for node, texts in lines.items():
        events = [(base_ms + 10 * i + node, text) for i, text in enumerate(texts)]
        aws.put_log_lines(GROUP, f"{job}/algo-{node + 1}-1700000000", events)


def put_object(aws: AwsServer, key: str, body: bytes) -> None:
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)


def now_ms(offset_s: float = -60) -> int:
    return int((time.time() + offset_s) * 1000)
