"""What the SageMaker benchmarks share: the AWS test server and the machine's description.

The server is the one the tests use (moto on 127.0.0.1 behind ``tests/emulators/aws.py``),
so the figures compare mlx with plain boto3 *against that server*: the call counts carry
over to AWS, the seconds only relative to each other.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.emulators.aws import AwsServer  # noqa: E402

RESULTS = REPO / "bench" / "RESULTS.md"


def start_server() -> AwsServer:
    """The AWS test server, with this process's boto3 pointed at it."""
    server = AwsServer().start()
    os.environ.update(
        AWS_ENDPOINT_URL=server.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    return server


def machine() -> str:
    uname = subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return (
        f"{date.today().isoformat()}; `uname -a`: `{uname}`; `nproc`: {os.cpu_count()}; "
        f"CPU: {cpu}; Python {platform.python_version()}. Against the AWS test server "
        "(moto behind `tests/emulators/aws.py`) on 127.0.0.1."
    )


def append_results(section: str) -> None:
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write("\n" + section.rstrip() + "\n")
