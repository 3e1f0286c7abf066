"""``mlx tensorboard`` on SageMaker: mlx's own training jobs, whose TensorBoard folder
SageMaker uploads while they run (TensorBoardOutputConfig), and a job mlx did not launch
whose folder is known (``--prefix``). Event files are read from S3 in ranges, and after
they grow only their new bytes, counted from the Range headers S3 received."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backends.contract import started
from tests.backends.sagemaker.conftest import BUCKET, IMAGE, SETTINGS, put_object, sagemaker_spec
from tests.backends.sagemaker.test_artifacts import external_job
from tests.conftest import write
from tests.emulators.aws import AwsServer
from tests.emulators.proxy import FaultProxy
from tests.tensorboard.events import SCRIPT, more_events, scalar_runs
from tests.tensorboard.scenario import CloudTensorBoard, _has_tensorboard, ranged_bytes

KEY = "tb/ext-tb/events.out.tfevents.1700000000.algo-1.7.0"


def sync(mlx: Any, cache: Path, *more: str) -> dict[str, Any]:
    result = mlx(
        "tensorboard", "sagemaker:ext-tb", "--prefix", f"s3://{BUCKET}/tb/ext-tb",
        "--sync-only", cache, "--json", *more,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    return run


def test_a_job_mlx_did_not_launch_is_read_in_ranges_from_its_prefix(
    mlx: Any, sm: AwsServer, tmp_path: Path, monkeypatch: Any
) -> None:
    external_job(sm, "ext-tb", status="InProgress")
    body = more_events(0, 6)
    put_object(sm, KEY, body)
    cache = tmp_path / "tb"
    with FaultProxy(sm.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)

        def reads() -> list[dict[str, str]]:
            return [r.headers for r in proxy.requests if r.method == "GET" and KEY in r.path]

        first = sync(mlx, cache, "--once")
        assert (first["run"], first["state"], first["bytes"]) == ("ext-tb", "running", len(body))
        assert ranged_bytes(reads()) == len(body)

        grown = more_events(6, 3)
        put_object(sm, KEY, body + grown)  # S3 objects grow by being written again, longer
        sm.set_training_job("ext-tb", status="Completed")
        before = len(reads())
        last = sync(mlx, cache)  # rounds until the job has ended: here, one
        assert (last["state"], last["bytes"], last["refetched"]) == ("succeeded", len(grown), [])
        assert ranged_bytes(reads()[before:]) == len(grown)
    assert (cache / "ext-tb" / KEY.rsplit("/", 1)[1]).read_bytes() == body + grown
    if _has_tensorboard():
        assert scalar_runs(cache) == {"ext-tb": list(range(9))}


class TestSageMakerTensorBoard(CloudTensorBoard):
    """mlx's own training jobs: SageMaker uploads TensorBoardOutputConfig's LocalPath while
    the job runs (render.py, the runner's TENSORBOARD)."""

    @pytest.fixture(autouse=True)
    def _servers(self, sm: AwsServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        self.aws = sm
        sm.execute_jobs()
        with FaultProxy(sm.url) as proxy:  # mlx's calls, recorded with their headers
            self.proxy = proxy
            monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
            yield

    def spec_fields(self) -> dict[str, Any]:
        return {"provider": "sagemaker", "image": IMAGE, "sagemaker": dict(SETTINGS)}

    def event_keys(self, job: str) -> list[str]:
        listed = self.aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"mlx/{job}/")
        keys = [o["Key"] for o in listed.get("Contents", [])]
        return [k for k in keys if f"/{job}/tensorboard-output/events." in k]

    def get(self, key: str) -> bytes:
        body = self.aws.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"]
        return body.read()

    def put(self, key: str, body: bytes) -> None:
        put_object(self.aws, key, body)

    def reads(self, key: str) -> list[dict[str, str]]:
        return [r.headers for r in self.proxy.requests if r.method == "GET" and key in r.path]

    def test_the_request_names_the_folder_the_script_writes(self, mlx: Any, spec: Path) -> None:
        ran = mlx("train", spec, "--detach")
        job = started(ran.stderr)
        (request,) = self.aws.requests("CreateTrainingJob")
        assert request["TensorBoardOutputConfig"] == {
            "S3OutputPath": f"s3://{BUCKET}/mlx/{job}/",
            "LocalPath": "/mlx/tensorboard",
        }

    def test_a_running_job_is_copied_while_it_runs(self, mlx: Any, tmp_path: Path) -> None:
        # The gate is a file of the node's /opt/ml/model, made from this side.
        spec = sagemaker_spec(
            tmp_path, command="python job.py", env={"TB_GATE": "/opt/ml/model/go"}
        )
        write(tmp_path / "project" / "code" / "job.py", SCRIPT)
        job = started(mlx("train", spec, "--detach").stderr)
        cache, first = tmp_path / "tb", None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # 3 steps written; the job waits for the gate
            result = mlx("tensorboard", job, "--sync-only", cache, "--once", "--json")
            (run,) = json.loads(result.stdout)["runs"]
            if run["bytes"]:
                first = run
                break
            time.sleep(0.2)
        assert first is not None and first["state"] == "running"
        assert self.aws.runs is not None
        (model,) = self.aws.runs.folder.glob(f"{job}/**/algo-1/opt/ml/model")
        (model / "go").touch()
        rest = self.sync(mlx, job, cache, "--every", "0.1")  # until the job ends
        (key,) = self.event_keys(job)
        assert (rest["state"], rest["bytes"]) == ("succeeded", len(self.get(key)) - first["bytes"])
        assert (cache / job / key.rsplit("/", 1)[1]).read_bytes() == self.get(key)
