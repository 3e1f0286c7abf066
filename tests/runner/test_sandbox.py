"""The sandbox runtime: a container's view of the file system, its variables and its end.

Each test starts real containers (user + mount namespaces) and checks what the process
inside saw and what it left on the host.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from mlx.runner.container import Container
from mlx.runner.docker import DockerRuntime
from mlx.runner.host import fetch
from mlx.runner.nodes import run_nodes
from mlx.runner.sandbox import SandboxRuntime

REPORT = """
import json, os, socket, sys
seen = {
    "cwd": os.getcwd(),
    "host": socket.gethostname(),
    "uid": os.getuid(),
    "ml": sorted(os.listdir("/opt/ml")),
    "hosts": open("/etc/hosts").read(),
    "tmp": sorted(os.listdir("/tmp")),
    "env": {k: os.environ.get(k) for k in ("JOB", "HOST_ONLY", "HOSTNAME")},
    "python": sys.executable,
}
try:
    open("/usr/mlx-escape", "w")
    seen["escaped"] = True
except OSError:
    seen["escaped"] = False
open("/opt/ml/model/seen.json", "w").write(json.dumps(seen))
print("done", flush=True)
print("warning", file=sys.stderr, flush=True)
"""


def run(containers: list[Container], scratch: Path) -> tuple[list[int], list[tuple]]:
    lines: list[tuple] = []
    codes = run_nodes(
        containers,
        SandboxRuntime(scratch),
        lambda node, stream, text, at: lines.append((node, stream, text)),
        threading.Event(),
    )
    return codes, lines


def test_a_container_sees_its_platform_layout_and_writes_only_its_own_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST_ONLY", "not for the job")
    (tmp_path / "ml" / "model").mkdir(parents=True)
    (tmp_path / "hosts").write_text("127.0.0.1 algo-1 algo-2\n")
    (Path("/tmp") / f"mlx-host-{tmp_path.name}").write_text("the host's /tmp")
    container = Container(
        image="python:3.11-slim",
        args=["python", "-c", REPORT],
        env={"JOB": "j-1"},
        mounts={"/opt/ml": tmp_path / "ml", "/etc/hosts": tmp_path / "hosts"},
        workdir="/opt/ml",
        hostname="algo-2",
    )
    codes, lines = run([container], tmp_path / "scratch")
    assert codes == [0]
    assert sorted(lines) == [(0, "stderr", "warning"), (0, "stdout", "done")]
    seen = json.loads((tmp_path / "ml" / "model" / "seen.json").read_text())
    assert seen["cwd"] == "/opt/ml" and seen["ml"] == ["model"]
    assert (seen["host"], seen["env"]["HOSTNAME"], seen["uid"]) == ("algo-2", "algo-2", 0)
    assert seen["hosts"] == "127.0.0.1 algo-1 algo-2\n"
    assert seen["env"]["JOB"] == "j-1" and seen["env"]["HOST_ONLY"] is None
    # A fresh /tmp, not the host's (it holds only what the sandbox binds back into it: a
    # Python made under /tmp, as CI's may be).
    assert f"mlx-host-{tmp_path.name}" not in seen["tmp"]
    assert seen["escaped"] is False
    assert not Path("/usr/mlx-escape").exists()
    (Path("/tmp") / f"mlx-host-{tmp_path.name}").unlink()


def test_nodes_run_side_by_side_each_with_its_own_mount_at_the_same_path(tmp_path: Path) -> None:
    containers = []
    for rank in range(3):
        (tmp_path / f"node{rank}").mkdir()
        containers.append(
            Container(
                image="img",
                args=["sh", "-c", f"echo {rank} > /opt/ml/rank && cat /opt/ml/rank"],
                mounts={"/opt/ml": tmp_path / f"node{rank}"},
            )
        )
    codes, lines = run(containers, tmp_path / "scratch")
    assert codes == [0, 0, 0]
    assert sorted(lines) == [(r, "stdout", str(r)) for r in range(3)]
    assert [(tmp_path / f"node{r}" / "rank").read_text() for r in range(3)] == ["0\n", "1\n", "2\n"]


def test_an_entrypoint_the_image_lacks_exits_127_and_says_so(tmp_path: Path) -> None:
    codes, lines = run([Container(image="img", args=["train"])], tmp_path / "scratch")
    assert codes == [127]
    assert lines == [(0, "stderr", "exec train: No such file or directory")]


def test_a_cancelled_job_stops_within_the_grace_period(tmp_path: Path) -> None:
    cancelled = threading.Event()
    container = Container(image="img", args=["sleep", "600"])
    threading.Timer(0.5, cancelled.set).start()
    began = time.monotonic()
    codes = run_nodes([container], SandboxRuntime(tmp_path), lambda *a: None, cancelled)
    assert codes != [0] and time.monotonic() - began < 5


def test_docker_runs_the_real_image_with_the_same_mounts_and_variables_by_name() -> None:
    container = Container(
        image="123.dkr.ecr.us-east-1.amazonaws.com/train:1",
        args=["train"],
        env={"SECRET": "s3cr3t"},
        mounts={"/opt/ml": Path("/jobs/j/ml")},
        hostname="algo-1",
    )
    argv = DockerRuntime().command(container)
    assert argv[-2:] == ["123.dkr.ecr.us-east-1.amazonaws.com/train:1", "train"]
    assert "--entrypoint" not in argv  # the image's own entrypoint runs `train`
    assert argv[argv.index("--volume") :][:2] == ["--volume", "/jobs/j/ml:/opt/ml"]
    assert "s3cr3t" not in " ".join(argv)  # values pass through the environment
    override = DockerRuntime().command(
        Container(image="img", entrypoint=["python", "-m", "x"], args=["--a"])
    )
    assert override[-6:] == ["--entrypoint", "python", "img", "-m", "x", "--a"]


def test_fetch_copies_one_object_or_a_prefix_and_never_a_neighbour(tmp_path: Path) -> None:
    from mlx.runner.folders import FolderStore

    store = FolderStore(tmp_path / "buckets", "s3", "b")
    for key in ("data/a.csv", "data/sub/b.csv", "data2/c.csv", "one.txt"):
        store.put_bytes(key, key.encode())
    assert fetch(store, "data", tmp_path / "d1") == 2
    assert sorted(
        p.relative_to(tmp_path / "d1").as_posix() for p in (tmp_path / "d1").rglob("*.csv")
    ) == [
        "a.csv",
        "sub/b.csv",
    ]
    assert fetch(store, "one.txt", tmp_path / "d2") == 1
    assert (tmp_path / "d2" / "one.txt").read_text() == "one.txt"


def test_a_python_made_under_tmp_still_stands_in_for_the_image(tmp_path: Path) -> None:
    """The container's fresh /tmp hides the host's; a virtualenv there (as CI may make
    one) is bound back, read-only, at its own path."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        venv = Path(folder) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        runtime = SandboxRuntime(tmp_path / "scratch", python=str(venv / "bin" / "python"))
        lines: list[tuple[int, str, str]] = []
        script = "import sys; print(sys.prefix); open(sys.prefix + '/x', 'w')"
        codes = run_nodes(
            [Container(image="img", args=["python", "-c", script])],
            runtime,
            lambda node, stream, text, at: lines.append((node, stream, text)),
            threading.Event(),
        )
        assert (0, "stdout", str(venv)) in lines
        assert codes == [1] and not (venv / "x").exists()  # read-only
