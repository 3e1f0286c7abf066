"""``vertex:<id>``: status, logs and artifacts of a custom job mlx did not launch (created
here as ``gcloud ai custom-jobs create`` would, through the real SDK)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.backends.vertex.conftest import BUCKET, PROJECT, SETTINGS, Gcp, just_now
from tests.conftest import write


def create_custom_job(gcp: Gcp, output: str = f"gs://{BUCKET}/theirs/run-7/") -> str:
    """A custom job of someone else's (no mlx label, no mlx layout); its number."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform_v1

    client = aiplatform_v1.JobServiceClient(
        transport="rest",
        client_options={"api_endpoint": gcp.vertex.url.removeprefix("https://")},
        credentials=AnonymousCredentials(),
    )
    job = aiplatform_v1.CustomJob(
        display_name="their-training",
        job_spec={
            "worker_pool_specs": [
                {
                    "machine_spec": {"machine_type": "n1-standard-4"},
                    "replica_count": 1,
                    "container_spec": {"image_uri": "us-docker.pkg.dev/p/r/t:1"},
                }
            ],
            "base_output_directory": {"output_uri_prefix": output},
        },
    )
    created = client.create_custom_job(
        parent=f"projects/{PROJECT}/locations/us-central1", custom_job=job
    )
    return str(created.name.rsplit("/", 1)[1])


def configure(tmp_path: Path) -> None:
    """The config file's `vertex:` block (MLX_CONFIG points there in every test)."""
    write(tmp_path / "no-config.yaml", json.dumps({"vertex": SETTINGS}))


def test_status_logs_and_artifacts_of_a_job_mlx_did_not_launch(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    configure(tmp_path)
    number = create_custom_job(gcp)
    gcp.vertex.set_state(number, "JOB_STATE_SUCCEEDED")
    gcp.log_lines(number, "workerpool0-0", ["epoch 1 loss=0.5", "epoch 2 loss=0.25"], just_now())
    gcp.put_object("theirs/run-7/model/weights.bin", b"w" * 10)
    gcp.put_object("theirs/run-70/model/other.bin", b"not theirs")

    status = mlx("status", f"vertex:{number}", "--json")
    assert status.exit_code == 0, status.stderr
    shown = json.loads(status.stdout)
    assert (shown["state"], shown["provider"]) == ("succeeded", "vertex")
    assert shown["native_id"].endswith(f"/customJobs/{number}")

    logs = mlx("logs", f"vertex:{number}")
    assert logs.exit_code == 0, logs.stderr
    assert logs.stdout.splitlines() == ["epoch 1 loss=0.5", "epoch 2 loss=0.25"]

    listed = mlx("pull-artifacts", f"vertex:{number}", "--list", "--json")
    assert [a["path"] for a in json.loads(listed.stdout)] == ["model/weights.bin"]
    pulled = mlx("pull-artifacts", f"vertex:{number}", "--dest", tmp_path / "got")
    assert pulled.exit_code == 0, pulled.stderr
    assert (tmp_path / "got" / "model" / "weights.bin").read_bytes() == b"w" * 10

    ids = [job["id"] for job in json.loads(mlx("jobs", "--json").stdout)]
    assert len(ids) == 1  # one job, however often it was named


def test_an_unknown_number_is_one_line(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    configure(tmp_path)
    result = mlx("status", "vertex:424242")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Vertex AI has no custom job 'projects/")


def test_remote_lists_the_locations_jobs_with_mlx_jobs_marked(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    from tests.backends.vertex.conftest import vertex_spec

    configure(tmp_path)
    theirs = create_custom_job(gcp)
    mine = mlx("train", vertex_spec(tmp_path), "--detach", "--json")
    assert mine.exit_code == 0, mine.stderr
    mlx_id = json.loads(mine.stdout)["id"]
    listed = mlx("jobs", "-p", "vertex", "--remote", "--json")
    assert listed.exit_code == 0, listed.stderr
    rows = {row["native_id"]: row for row in json.loads(listed.stdout)}
    assert rows[theirs]["mlx_id"] is None and rows[theirs]["ref"] == f"vertex:{theirs}"
    assert rows[theirs]["name"] == "their-training"
    (marked,) = [row for row in rows.values() if row["mlx_id"]]
    assert marked["mlx_id"] == mlx_id
    one = mlx("jobs", "-p", "vertex", "--remote", "--limit", "1", "--json")
    assert len(json.loads(one.stdout)) == 1
    table = mlx("jobs", "-p", "vertex", "--remote")
    assert f"vertex:{theirs}" in table.stdout and mlx_id in table.stdout
