"""What Vertex accepts and what its console shows, against the rules the test server
enforces (tests/emulators/vertex.py): the boot disk per machine family, spot capacity, and
the rendered argv in ``containerSpec.args``; then a trial run as Vertex runs it, through
the ``/gcs/`` mount, sees the argv it sees on local."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.backends.vertex.conftest import BUCKET, Gcp, vertex_spec
from tests.conftest import write

HPS = {"lr": 0.1, "layers": [64, 32], "verbose": None}
ECHO = """\
import json, os, sys
print("loss=0.5 step=1", flush=True)
with open(os.environ["SEEN"], "w") as f:
    json.dump(sys.argv[1:], f)
"""


def started(result: Any) -> str:
    assert result.exit_code == 0, result.stderr
    return re.search(r"Started (?:tuning job )?(\S+) on", result.stderr).group(1)  # type: ignore[union-attr]


def test_an_h200_spot_job_is_accepted_and_shows_the_argv_the_script_gets(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    """A3 Ultra (the catalog's H200) takes Hyperdisk only: mlx sends no boot disk type, so
    Vertex uses the family's own; the console's args are the script's whole argv."""
    spec = vertex_spec(
        tmp_path, resources={"accelerator": "H200:8", "spot": True}, hyperparameters=HPS
    )
    started(mlx("train", spec, "--detach"))
    (job,) = gcp.vertex.jobs.values()
    pool = job.job_spec.worker_pool_specs[0]
    assert pool.machine_spec.machine_type == "a3-ultragpu-8g"
    assert pool.machine_spec.accelerator_type.name == "NVIDIA_H200_141GB"
    assert job.job_spec.scheduling.strategy.name == "SPOT"
    sent = gcp.vertex.requests("CreateCustomJob")[0]["body"]["jobSpec"]["workerPoolSpecs"][0]
    assert "diskSpec" not in sent
    assert list(pool.container_spec.args) == [
        *["python", "train.py", "--lr", "0.1", "--layers", "64", "--layers", "32", "--verbose"]
    ]


def test_a_disk_size_is_sent_without_a_type(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    started(mlx("train", vertex_spec(tmp_path, resources={"disk": "250GB"}), "--detach"))
    sent = gcp.vertex.requests("CreateCustomJob")[0]["body"]["jobSpec"]["workerPoolSpecs"][0]
    assert sent["diskSpec"] == {"bootDiskSizeGb": 250}


def mount(gcp: Gcp, root: Path) -> Path:
    """The bucket as Vertex mounts it at ``/gcs/<bucket>/``, under ``root`` here."""
    for name in gcp.objects():
        if not name.endswith("/"):
            data = gcp.storage().bucket(BUCKET).blob(name).download_as_bytes()
            target = root / BUCKET / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return root


def on_mount(root: Path, text: str) -> str:
    return text.replace("/gcs/", f"{root}/")


def test_a_trial_runs_what_the_console_shows_and_sees_the_local_argv(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    spec = vertex_spec(
        tmp_path,
        hyperparameters=HPS,
        metrics=[{"name": "loss"}],
        tune={
            "objective": {"metric": "loss"},
            "parameters": {
                "lr": {"type": "float", "min": 0.001, "max": 0.5},
                "opt": {"type": "choice", "values": ["sgd", "adam"]},
            },
        },
    )
    write(tmp_path / "project" / "code" / "train.py", ECHO)
    mlx_id = started(mlx("tune", spec, "--detach"))
    (number,) = gcp.vertex.jobs
    # The console shows the static values that are not tuned; Vertex appends the trial's.
    command, args = gcp.vertex.trial_container(number, {"lr": "0.003", "opt": "adam"})
    assert args == [
        *["python", "train.py", "--layers", "64", "--layers", "32", "--verbose"],
        *["--lr=0.003", "--opt=adam"],
    ]

    root = mount(gcp, tmp_path / "gcs")
    runtime = root / BUCKET / "mlx" / mlx_id / "mlx" / "runtime.json"
    runtime.write_text(on_mount(root, runtime.read_text()))
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "SEEN": str(tmp_path / "seen.json"),
        "CLOUD_ML_TRIAL_ID": "1",
        "CLOUD_ML_HP_METRIC_FILE": str(tmp_path / "hypertune" / "output.metrics"),
    }
    argv = [on_mount(root, part) for part in [*command, *args]]
    argv[0] = shutil.which(argv[0]) or argv[0]
    # An absolute program and close_fds=False let Python 3.9 posix_spawn the container
    # instead of forking: gRPC's fork handlers (the Cloud Logging test server runs in this
    # process) can abort a forked child there. Python 3.10+ uses vfork either way.
    subprocess.run(argv, env=env, check=True, timeout=60, capture_output=True, close_fds=False)
    # As on local: the static values in the spec's order (the tuned lr in its place), then
    # the other trial values in the search space's order.
    assert json.loads((tmp_path / "seen.json").read_text()) == [
        *["--lr", "0.003", "--layers", "64", "--layers", "32", "--verbose", "--opt", "adam"]
    ]
