"""Inside a Vertex job: the bootstrap under CLUSTER_SPEC and trial arguments gives the
script local's argv, and writes the objective in cloudml-hypertune's format."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from mlx.backends.vertex.in_job import cluster_nodes, fold_trial_args, platform_dirs
from mlx.bootstrap_package import bootstrap_path
from mlx.runtime.bootstrap import run
from mlx.spec import JobSpec
from tests.conftest import write

ECHO = """\
import json, os, sys
print("loss=0.5 step=1")
print("loss=0.25 step=2", flush=True)
keys = ["MLX_NODE_RANK", "MLX_NUM_NODES", "SM_HPS", "AIP_MODEL_DIR", "MLX_MODEL_DIR"]
with open(os.environ["SEEN"], "w") as f:
    json.dump({"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in keys}}, f)
"""
SPACE = {
    "lr": {"type": "float"},
    "layers-count": {"type": "int"},
    "batch": {"type": "discrete", "values": [32, 64]},
    "amp": {"type": "choice", "values": [True, False]},
    "opt": {"type": "choice", "values": ["sgd", "adam"]},
}
STATIC = {"lr": 0.1, "layers": [64, 32], "verbose": None, "amp": False}
# How Vertex starts worker 1 of pool 1 (node 2 of 3), trial 7 of a tuning job.
CLUSTER_SPEC = {
    "cluster": {"workerpool0": ["cmle-0:2222"], "workerpool1": ["cmle-1:2222", "cmle-2:2222"]},
    "task": {"type": "workerpool1", "index": 1, "trial": "7"},
    "job": "{}",
}
ARGS = ["--config", "c.yaml"]  # the spec's literal args
TRIAL_ARGS = ["--lr=0.003", "--layers-count=3", "--batch=64.0", "--amp=true", "--opt=adam"]


def local_argv(command: list[str], hyperparameters: dict[str, Any]) -> list[str]:
    """What the local provider gives the script: the spec's one argv rule."""
    spec = JobSpec(name="x", command=command, args=ARGS)
    return spec.argv(hyperparameters)


def runtime_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """A Vertex runtime config whose dirs are in ``tmp_path`` (no AIP_* variables here)."""
    return {
        "provider": "vertex",
        "adapter": "mlx.backends.vertex.in_job",
        "model_dir": str(tmp_path / "model"),
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "output_dir": str(tmp_path / "out"),
        "hyperparameters": STATIC,
        **extra,
    }


def environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "SEEN": str(tmp_path / "seen.json"), **extra}


# The static values that are not tuned, as mlx renders them into the trials' args.
STATIC_TAIL = ["--layers", "64", "--layers", "32", "--verbose"]


@pytest.mark.parametrize("in_argv", [True, False], ids=["static-in-args", "older-config"])
def test_trial_under_cluster_spec_sees_the_argv_it_sees_on_local(
    tmp_path: Path, in_argv: bool
) -> None:
    """The trial's args: the literal args, the static tail (what the console shows), then
    the values Vertex appends; a config from before the static tail renders them all."""
    script = write(tmp_path / "train.py", ECHO)
    runtime = runtime_config(
        tmp_path, search_space=SPACE, num_nodes=3, hyperparameters_in_argv=in_argv
    )
    config = write(tmp_path / "runtime.json", json.dumps(runtime))
    env = environ(tmp_path, CLUSTER_SPEC=json.dumps(CLUSTER_SPEC), CLOUD_ML_TRIAL_ID="7")
    command = [sys.executable, str(script)]
    args = [*ARGS, *(STATIC_TAIL if in_argv else []), *TRIAL_ARGS]
    pyz = bootstrap_path(tmp_path / "cache")  # the zipapp the job gets, vertex.py included
    subprocess.run(
        [sys.executable, str(pyz), "--config", str(config), "--", *command, *args],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    seen = json.loads((tmp_path / "seen.json").read_text())
    trial = {"lr": 0.003, "layers-count": 3, "batch": 64, "amp": True, "opt": "adam"}
    assert seen["argv"] == local_argv(command, {**STATIC, **trial})[2:]
    assert seen["argv"] == [
        *["--config", "c.yaml", "--lr", "0.003", "--layers", "64", "--layers", "32"],
        *["--verbose", "--amp", "--layers-count", "3", "--batch", "64", "--opt", "adam"],
    ]
    assert (seen["env"]["MLX_NODE_RANK"], seen["env"]["MLX_NUM_NODES"]) == ("2", "3")
    assert json.loads(seen["env"]["SM_HPS"]) == {**STATIC, **trial}


def test_training_job_argv_is_taken_as_rendered(tmp_path: Path) -> None:
    """A training job's args already hold the rendered hyperparameters (visible in the
    request): the bootstrap runs them as they are, no second copy."""
    script = write(tmp_path / "train.py", ECHO)
    argv = local_argv([sys.executable, str(script)], STATIC)
    config = runtime_config(tmp_path, hyperparameters_in_argv=True)
    assert run(config, argv, environ(tmp_path)) == 0
    assert json.loads((tmp_path / "seen.json").read_text())["argv"] == argv[2:]


@pytest.mark.parametrize(
    ("args", "rest", "chosen"),
    [
        (["--x", "1", "--lr=0.5"], ["--x", "1"], {"lr": 0.5}),
        (["--lr", "0.5", "--opt", "sgd"], [], {"lr": 0.5, "opt": "sgd"}),  # --name value
        (["--opt=sgd", "--opt=adam"], ["--opt=sgd"], {"opt": "adam"}),  # each name once
        (["--amp=false"], [], {"amp": False}),  # a choice of booleans: false drops the flag
        (["--layers-count=2.0"], [], {"layers-count": 2}),
        (["--unknown=1"], ["--unknown=1"], {}),
    ],
)
def test_fold_trial_args(args: list[str], rest: list[str], chosen: dict[str, Any]) -> None:
    command, hps = fold_trial_args(["python", "t.py", *args], {"lr": 0.1}, SPACE)
    assert command == ["python", "t.py", *rest]
    assert hps == {"lr": 0.1, **chosen}


def test_cluster_spec_numbers_replicas_across_pools() -> None:
    def rank(pool: str, index: int) -> dict[str, int]:
        spec = dict(CLUSTER_SPEC, task={"type": pool, "index": index})
        return cluster_nodes({"CLUSTER_SPEC": json.dumps(spec)})

    master = {"master_addr": "cmle-0", "master_port": 2222}  # pool 0's one replica
    assert rank("workerpool0", 0) == {"num_nodes": 3, "node_rank": 0, **master}
    assert rank("workerpool1", 0) == {"num_nodes": 3, "node_rank": 1, **master}
    assert rank("workerpool1", 1) == {"num_nodes": 3, "node_rank": 2, **master}
    assert cluster_nodes({}) == {} and cluster_nodes({"CLUSTER_SPEC": "{"}) == {}


def test_platform_dirs_map_aip_uris_under_the_mount() -> None:
    env = {
        "AIP_MODEL_DIR": "gs://b/mlx/job-1/3/model/",
        "AIP_CHECKPOINT_DIR": "gs://b/mlx/job-1/3/checkpoints/",
    }
    assert platform_dirs(env) == {
        "model_dir": "/gcs/b/mlx/job-1/3/model",
        "checkpoint_dir": "/gcs/b/mlx/job-1/3/checkpoints",
        "output_dir": "/gcs/b/mlx/job-1/3/output",
    }
    assert platform_dirs({}) == {}


def read_hypertune(path: Path, tag: str) -> list[tuple[str, float, int]]:
    """The metrics file as Vertex's hypertune agent reads it: one JSON object a line with
    the tag's value, ``trial`` and ``global_step`` as text, a float ``timestamp`` and an
    empty ``checkpoint_path`` (cloudml-hypertune's keys)."""
    entries = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        assert set(item) == {"timestamp", "trial", "global_step", "checkpoint_path", tag}
        assert item["checkpoint_path"] == ""
        assert isinstance(item["timestamp"], float)
        assert all(isinstance(item[k], str) for k in ("trial", "global_step", tag))
        assert line == json.dumps(item, sort_keys=True)  # the library writes sorted keys
        entries.append((item["trial"], float(item[tag]), int(item["global_step"])))
    return entries


def test_objective_goes_to_the_hypertune_file(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", ECHO)
    metrics_file = tmp_path / "hypertune" / "output.metrics"
    config = runtime_config(
        tmp_path,
        metrics=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
        report="vertex",
        objective="loss",
        search_space={"lr": {"type": "float"}},
    )
    env = environ(tmp_path, CLOUD_ML_HP_METRIC_FILE=str(metrics_file), CLOUD_ML_TRIAL_ID="4")
    assert run(config, [sys.executable, str(script), "--lr=0.1"], env) == 0
    assert read_hypertune(metrics_file, "loss") == [("4", 0.5, 1), ("4", 0.25, 2)]
    assert [p.name for p in metrics_file.parent.iterdir()] == ["output.metrics"]


def test_the_hypertune_file_is_the_one_cloudml_hypertune_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same reports through Google's library and through mlx give the same file, but
    for the time; both rewrite it in place (the same inode), never by renaming."""
    import hypertune

    from mlx.runtime.metrics import HypertuneReporter, MetricValue

    ours, theirs = tmp_path / "ours" / "output.metrics", tmp_path / "theirs" / "output.metrics"
    monkeypatch.setenv("CLOUD_ML_HP_METRIC_FILE", str(theirs))
    monkeypatch.setenv("CLOUD_ML_TRIAL_ID", "7")
    library = hypertune.HyperTune()
    reporter = HypertuneReporter(str(ours), "val_loss", "7")
    inodes = set()
    for step, value in [(None, 1.5), (1, 0.5), (2, 0.25), (0, 3.0), (12, 1e-7)]:
        library.report_hyperparameter_tuning_metric("val_loss", value, global_step=step)
        reporter.report(MetricValue("val_loss", value, step, 0.0))
        inodes.add(ours.stat().st_ino)
    assert len(inodes) == 1
    mine, google = ours.read_text().splitlines(), theirs.read_text().splitlines()
    assert len(mine) == len(google) == 5
    for line, reference in zip(mine, google):
        item, expected = json.loads(line), json.loads(reference)
        assert isinstance(item.pop("timestamp"), float)
        expected.pop("timestamp")
        assert item == expected
        assert line == json.dumps(json.loads(line), sort_keys=True)


def test_hypertune_file_keeps_the_last_100_reports(tmp_path: Path) -> None:
    from mlx.runtime.metrics import HypertuneReporter, MetricValue

    path = tmp_path / "output.metrics"
    reporter = HypertuneReporter(str(path), "acc", "2")
    for step in range(150):
        reporter.report(MetricValue("acc", step / 1000, step, 1.0))
        reporter.report(MetricValue("other", 1.0, step, 1.0))  # not the objective: ignored
    entries = read_hypertune(path, "acc")
    assert (len(entries), entries[0], entries[-1]) == (100, ("2", 0.05, 50), ("2", 0.149, 149))


SLEEPER = """\
import sys, time
print("loss=0.5 step=1", flush=True)
time.sleep(60)
"""


def open_files(pid: int) -> set[str]:
    """The paths process ``pid`` holds open."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            found.add(os.readlink(fd))
    return found


def test_metrics_on_the_mount_survive_a_killed_job(tmp_path: Path) -> None:
    """Cloud Storage FUSE uploads a file when it is closed: the record on the mount is
    written whole after a report and never held open, so a job killed at once (timeout,
    preemption) leaves its metrics behind."""
    script = write(tmp_path / "train.py", SLEEPER)
    mounted = tmp_path / "gcs" / "b" / "mlx" / "job-1" / "mlx" / "metrics.jsonl"
    runtime = runtime_config(
        tmp_path,
        metrics=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
        metrics_file=str(mounted),
        metrics_file_on_mount=True,
    )
    config = write(tmp_path / "runtime.json", json.dumps(runtime))
    pyz = bootstrap_path(tmp_path / "cache")
    job = subprocess.Popen(
        [sys.executable, str(pyz), "--config", str(config), "--", sys.executable, str(script)],
        env=environ(tmp_path),
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if mounted.exists() and mounted.read_text() and str(mounted) not in open_files(job.pid):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"{mounted} never closed with a report in it")
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=10)
    (line,) = mounted.read_text().splitlines()
    assert (json.loads(line)["name"], json.loads(line)["value"]) == ("loss", 0.5)


def test_copies_to_the_mount_are_whole_and_at_most_one_an_interval(tmp_path: Path) -> None:
    from mlx.runtime.metrics import MetricValue, MountedJsonLinesReporter

    def local_records() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("mlx-metrics-*.jsonl"))

    before = local_records()
    mounted = tmp_path / "gcs" / "metrics.jsonl"
    reporter = MountedJsonLinesReporter(str(mounted), interval=0.3)
    assert len(local_records() - before) == 1
    for step in range(3):
        reporter.report(MetricValue("loss", 1.0 / (step + 1), step, 1.0))
    assert len(mounted.read_text().splitlines()) == 1  # the first at once, then one a 0.3 s
    deadline = time.monotonic() + 5
    while len(mounted.read_text().splitlines()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)  # the interval's end copies what came in meanwhile
    assert [json.loads(x)["step"] for x in mounted.read_text().splitlines()] == [0, 1, 2]
    reporter.report(MetricValue("loss", 0.1, 3, 1.0))
    reporter.close()  # copies what is left, and removes the local record
    assert [json.loads(x)["step"] for x in mounted.read_text().splitlines()] == [0, 1, 2, 3]
    assert local_records() - before == set()
