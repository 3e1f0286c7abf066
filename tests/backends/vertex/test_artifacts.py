"""Artifacts from gs://<bucket>/mlx/<job>/: listed, fetched while the job runs, skipped
when already current (size and crc32c), written atomically, retried."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import google_crc32c

from tests.backends.vertex.conftest import Gcp, vertex_spec

WEIGHTS = bytes(range(256)) * 4096  # 1 MiB


def running_job(mlx: Any, gcp: Gcp, tmp_path: Path) -> str:
    result = mlx("train", vertex_spec(tmp_path), "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    gcp.vertex.set_state(job["native_id"].rsplit("/", 1)[1], "JOB_STATE_RUNNING")
    gcp.put_object(f"mlx/{job['id']}/model/weights.bin", WEIGHTS)
    gcp.put_object(f"mlx/{job['id']}/logs/events.out", b"tensorboard")
    return job["id"]


def pull(mlx: Any, job: str, dest: Path, *extra: str) -> dict[str, Any]:
    result = mlx("pull-artifacts", job, "--dest", dest, "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_list_shows_the_job_files_with_crc32c_not_mlx_staging(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    job = running_job(mlx, gcp, tmp_path)
    listed = json.loads(mlx("pull-artifacts", job, "--list", "--json").stdout)
    crc = base64.b64encode(google_crc32c.Checksum(WEIGHTS).digest()).decode()
    assert listed == [
        {"path": "logs/events.out", "size": 11, "checksum": listed[0]["checksum"]},
        {"path": "model/weights.bin", "size": len(WEIGHTS), "checksum": crc},
    ]
    assert any(name.startswith(f"mlx/{job}/mlx/") for name in gcp.objects())  # staged, hidden


def test_pull_while_running_then_skip_what_is_current(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    job = running_job(mlx, gcp, tmp_path)
    dest = tmp_path / "pulled"
    first = pull(mlx, job, dest, "--include", "model/*")
    assert (first["downloaded"], first["bytes"]) == (["model/weights.bin"], len(WEIGHTS))
    assert (dest / "model" / "weights.bin").read_bytes() == WEIGHTS

    again = pull(mlx, job, dest)
    assert (again["downloaded"], again["skipped"]) == (["logs/events.out"], ["model/weights.bin"])
    # Same size, other bytes: the crc32c tells them apart.
    (dest / "model" / "weights.bin").write_bytes(bytes(len(WEIGHTS)))
    third = pull(mlx, job, dest)
    assert third["downloaded"] == ["model/weights.bin"]
    assert (dest / "model" / "weights.bin").read_bytes() == WEIGHTS


def test_a_failed_download_leaves_nothing_behind(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    job = running_job(mlx, gcp, tmp_path)
    dest = tmp_path / "pulled"
    gcp.gcs.plan.add("objects.get", "error", status=403, times=5)  # not retried
    result = mlx("pull-artifacts", job, "--dest", dest, "--include", "model/*")
    assert result.exit_code == 1
    assert "Error: downloading gs://mlx-test/mlx/" in result.stderr
    assert "Traceback" not in result.stderr
    assert not dest.exists() or [p for p in dest.rglob("*") if p.is_file()] == []


def test_cut_and_unavailable_downloads_are_retried(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    job = running_job(mlx, gcp, tmp_path)
    dest = tmp_path / "pulled"
    gcp.gcs.plan.add("objects.get", "error", status=503)
    gcp.gcs.plan.add("objects.get", "reset", after_bytes=1000)
    pulled = pull(mlx, job, dest, "--include", "model/*")
    assert pulled["downloaded"] == ["model/weights.bin"]
    assert (dest / "model" / "weights.bin").read_bytes() == WEIGHTS
