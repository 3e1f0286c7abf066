"""A Vertex job rehearsed on this machine: what ``submit`` would stage goes into local
folders standing in for the buckets, and the platform runner runs the request from them,
the folder bound at ``/gcs/<bucket>`` as Cloud Storage FUSE would show the bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlx.backends.vertex.backend import VertexBackend
from mlx.backends.vertex.runner import VertexRunner
from mlx.cloud.layout import split_uri
from mlx.model import JobKind
from mlx.runner.folders import FolderStore
from mlx.runner.host import Host, Where
from mlx.runner.sandbox import SandboxRuntime
from mlx.spec import load_spec
from tests.backends.vertex.conftest import BUCKET, vertex_spec
from tests.conftest import write

SCRIPT = """
import os, sys
print("args", sys.argv[1:], flush=True)
print("on stderr", file=sys.stderr, flush=True)
with open(os.path.join(os.environ["MLX_MODEL_DIR"], "m.txt"), "w") as f:
    f.write(open(os.environ["MLX_INPUT_DATA"]).read().upper())
"""


def test_a_rehearsed_training_job_reads_and_writes_the_bucket_folders(tmp_path: Path) -> None:
    path = vertex_spec(tmp_path, hyperparameters={"lr": 0.5}, inputs={"data": "./data.txt"})
    write(tmp_path / "project" / "code" / "train.py", SCRIPT)
    write(tmp_path / "project" / "data.txt", "some data")
    root = tmp_path / "buckets"

    def stores(uri: str) -> tuple[Any, str]:
        bucket, key = split_uri(uri)
        return FolderStore(root, "gs", bucket), key

    spec = load_spec(path)
    request = VertexBackend().stage_rehearsal(spec, "vx-1", JobKind.TRAINING, stores)
    assert request["customJob"]["displayName"] == "vx-1"
    lines: list[tuple[Where, str]] = []
    events: list[str] = []
    host = Host(
        store=stores,
        runtime=SandboxRuntime(scratch=tmp_path / "sandbox"),
        workspace=tmp_path / "workspace",
        line=lambda where, text, when: lines.append((where, text)),
        event=lambda what, details: events.append(details["state"]),
    )
    outcome = VertexRunner().run_training(request, host)
    assert outcome.state == "succeeded", lines
    assert outcome.artifacts_uri == f"gs://{BUCKET}/mlx/vx-1/"
    assert events == ["JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"]
    shown = [(w.stream, w.channel, text) for w, text in lines]
    assert ("workerpool0-0", "stdout", "args ['--lr', '0.5']") in shown
    assert ("workerpool0-0", "stderr", "on stderr") in shown
    model = root / "gs" / BUCKET / "mlx" / "vx-1" / "model" / "m.txt"
    assert model.read_text() == "SOME DATA"
