"""The bootstrap keeps the training alive when mlx's own record fails (issue 16, item 11):
a full disk under ``metrics.jsonl`` costs the metrics, never the job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlx.bootstrap_package import bootstrap_path
from mlx.spec import default_metric_regex
from tests.conftest import write

SCRIPT = """\
import os
for step in range(2000):
    print(f"step={step} loss={1 / (step + 1):.4f}", flush=True)
open(os.path.join(os.environ["MLX_MODEL_DIR"], "done"), "w").write("yes")
"""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_under_the_metrics_file_warns_once_and_the_job_goes_on(
    tmp_path: Path,
) -> None:
    config = {
        "job_id": "full-1",
        "model_dir": str(tmp_path / "model"),
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "output_dir": str(tmp_path / "out"),
        "hyperparameters": {},
        "metrics": [{"name": "loss", "regex": default_metric_regex("loss")}],
        "metrics_file": "/dev/full",  # every write fails with ENOSPC, as on a full disk
    }
    runtime = write(tmp_path / "runtime.json", json.dumps(config))
    script = write(tmp_path / "train.py", SCRIPT)
    done = subprocess.run(
        [
            sys.executable,
            str(bootstrap_path(tmp_path / "cache")),
            "--config",
            str(runtime),
            "--",
            sys.executable,
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2000
    assert (tmp_path / "model" / "done").read_text() == "yes"
    assert done.stderr.splitlines() == [
        "[mlx] cannot write metrics to /dev/full (No space left on device): the job goes on, "
        "its metrics are no longer recorded"
    ]
