"""The local backend end to end, through the real CLI."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import subprocess_env, write

# A script written for SageMaker: channels and model dir from SM_* variables, argparse with
# hyphenated flags, an append list and a store_true flag.
SAGEMAKER_SCRIPT = """\
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("--learning-rate", type=float)
p.add_argument("--layers", type=int, action="append")
p.add_argument("--use-amp", action="store_true")
p.add_argument("--no-cache", action="store_true")
p.add_argument("--config")
args = p.parse_args()
train = os.environ["SM_CHANNEL_TRAIN"]
rows = open(os.path.join(train, "data.csv")).read().splitlines()
keys = ["SM_CHANNEL_TRAIN", "SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_HPS", "SM_HOSTS",
        "SM_CURRENT_HOST", "SM_NUM_GPUS", "SM_CHANNELS", "MLX_INPUT_TRAIN", "MLX_MODEL_DIR",
        "MLX_JOB_ID", "MLX_NUM_NODES", "MLX_NODE_RANK", "AIP_MODEL_DIR", "AIP_CHECKPOINT_DIR",
        "AIP_TENSORBOARD_LOG_DIR", "MLX_CHECKPOINT_DIR", "MLX_OUTPUT_DIR", "LOG_LEVEL"]
seen = {"argv": sys.argv[1:], "args": vars(args), "rows": len(rows),
        "env": {k: os.environ.get(k) for k in keys}}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump(seen, f)
print("val_loss=0.25 step=1")
print("val_loss=0.125 step=2")
"""


def sagemaker_project(root: Path) -> Path:
    write(root / "src" / "train.py", SAGEMAKER_SCRIPT)
    write(root / "data" / "train" / "data.csv", "a,b\n1,2\n3,4\n")
    return write(
        root / "job.yaml",
        """\
name: sm-script
command: python train.py
code: src
args: [--config, conf.yaml]
hyperparameters:
  learning-rate: 0.001
  layers: [64, 32]
  use-amp: true
  no-cache: false
inputs:
  train: data/train
env: {LOG_LEVEL: debug}
metrics: [{name: val_loss}]
""",
    )


def test_sagemaker_script_runs_unchanged_on_local(mlx, tmp_path: Path) -> None:
    spec = sagemaker_project(tmp_path)
    result = mlx("train", spec, "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    assert (job["provider"], job["state"]) == ("local", "succeeded")
    assert job["metrics"] == {"val_loss": 0.125}
    assert "val_loss=0.125 step=2" in result.stderr  # logs go to stderr with --json

    home = Path(os.environ["MLX_HOME"]) / "jobs" / job["id"]
    seen = json.loads((home / "artifacts" / "model" / "seen.json").read_text())
    assert seen["argv"] == [
        "--config",
        "conf.yaml",
        "--learning-rate",
        "0.001",
        "--layers",
        "64",
        "--layers",
        "32",
        "--use-amp",
    ]
    assert seen["args"] == {
        "learning_rate": 0.001,
        "layers": [64, 32],
        "use_amp": True,
        "no_cache": False,
        "config": "conf.yaml",
    }
    assert seen["rows"] == 3
    env = seen["env"]
    train_dir = str((tmp_path / "data" / "train").resolve())
    model_dir = str(home / "artifacts" / "model")
    assert env["SM_CHANNEL_TRAIN"] == env["MLX_INPUT_TRAIN"] == train_dir
    assert env["SM_MODEL_DIR"] == env["MLX_MODEL_DIR"] == env["AIP_MODEL_DIR"] == model_dir
    assert env["SM_OUTPUT_DATA_DIR"] == env["MLX_OUTPUT_DIR"] == str(home / "artifacts" / "output")
    assert env["AIP_CHECKPOINT_DIR"] == env["MLX_CHECKPOINT_DIR"]
    assert env["AIP_TENSORBOARD_LOG_DIR"] == str(home / "artifacts" / "output" / "tensorboard")
    assert json.loads(env["SM_HPS"]) == {
        "learning-rate": 0.001,
        "layers": [64, 32],
        "use-amp": True,
        "no-cache": False,
    }
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert (env["SM_NUM_GPUS"], env["MLX_NUM_NODES"], env["MLX_NODE_RANK"]) == ("0", "1", "0")
    assert env["MLX_JOB_ID"] == job["id"]
    assert env["LOG_LEVEL"] == "debug"


def test_status_json_and_logs_filters(mlx, tmp_path: Path) -> None:
    spec = sagemaker_project(tmp_path)
    job_id = json.loads(mlx("train", spec, "--json").stdout)["id"]

    status = json.loads(mlx("status", job_id[:-2], "--json").stdout)
    assert {k: status[k] for k in ("id", "provider", "state", "native_id", "metrics")} == {
        "id": job_id,
        "provider": "local",
        "state": "succeeded",
        "native_id": job_id,
        "metrics": {"val_loss": 0.125},
    }
    assert status["artifacts_uri"].startswith("file://") and status["artifacts_uri"].endswith(
        f"/jobs/{job_id}/artifacts"
    )
    assert mlx("logs", job_id).stdout == "val_loss=0.25 step=1\nval_loss=0.125 step=2\n"
    assert mlx("logs", job_id, "--tail", "1").stdout == "val_loss=0.125 step=2\n"
    assert mlx("logs", job_id, "--grep", r"step=1\b").stdout == "val_loss=0.25 step=1\n"
    assert mlx("logs", job_id, "--since", "1h").stdout.count("\n") == 2
    assert mlx("logs", job_id, "--since", "2999-01-01T00:00:00Z").stdout == ""
    stamped = mlx("logs", job_id, "-t", "--tail", "1").stdout
    assert stamped.endswith(" val_loss=0.125 step=2\n")
    # Local time with the date and the zone, as `status` shows times.
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+ val_loss", stamped)


def test_failed_job_exits_1_with_reason(mlx, tmp_path: Path) -> None:
    write(tmp_path / "fail.py", "import sys\nprint('about to fail')\nsys.exit(3)\n")
    spec = write(tmp_path / "job.yaml", "name: failing\ncommand: python fail.py\n")
    result = mlx("train", spec)
    assert result.exit_code == 1
    assert "about to fail" in result.stdout
    job_id = mlx("jobs", "--json").stdout and json.loads(mlx("jobs", "--json").stdout)[0]["id"]
    assert f"Error: job {job_id} failed: exited with code 3" in result.stderr
    status = json.loads(mlx("status", job_id, "--json").stdout)
    assert (status["state"], status["exit_code"]) == ("failed", 3)
    assert mlx("logs", job_id, "-f").exit_code == 1  # follow ends with the job's status


def test_command_not_found_fails_cleanly(mlx, tmp_path: Path) -> None:
    spec = write(tmp_path / "job.yaml", "name: nocmd\ncommand: no-such-program-xyz --flag\n")
    result = mlx("train", spec)
    assert result.exit_code == 1
    assert "cannot start 'no-such-program-xyz'" in result.stdout
    assert "exited with code 127" in result.stderr


MULTI_NODE = """\
import json, os
keys = ["RANK", "WORLD_SIZE", "NODE_RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
        "SM_HOSTS", "SM_CURRENT_HOST", "MLX_NODE_RANK", "MLX_NUM_NODES"]
print(json.dumps({k: os.environ[k] for k in keys}))
"""


def test_multi_node_runs_one_process_per_node_with_rendezvous_env(mlx, tmp_path: Path) -> None:
    write(tmp_path / "node.py", MULTI_NODE)
    spec = write(
        tmp_path / "job.yaml", "name: ddp\ncommand: python node.py\nresources: {nodes: 3}\n"
    )
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stderr
    by_node = {}
    for line in result.stdout.splitlines():
        prefix, _, payload = line.partition("] ")
        by_node[prefix + "]"] = json.loads(payload)
    assert sorted(by_node) == ["[node-0]", "[node-1]", "[node-2]"]
    ports = {env["MASTER_PORT"] for env in by_node.values()}
    assert len(ports) == 1
    for rank in range(3):
        env = by_node[f"[node-{rank}]"]
        assert env["RANK"] == env["NODE_RANK"] == env["MLX_NODE_RANK"] == str(rank)
        assert (env["WORLD_SIZE"], env["MLX_NUM_NODES"], env["LOCAL_RANK"]) == ("3", "3", "0")
        assert env["MASTER_ADDR"] == "127.0.0.1"
        assert json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2", "algo-3"]
        assert env["SM_CURRENT_HOST"] == f"algo-{rank + 1}"
    job_id = json.loads(mlx("jobs", "--json").stdout)[0]["id"]
    assert mlx("logs", job_id, "--node", "1").stdout.startswith("[node-1] {")
    assert mlx("logs", job_id, "--node", "1").stdout.count("\n") == 1


def test_one_failing_node_stops_the_others(mlx, tmp_path: Path) -> None:
    write(
        tmp_path / "node.py",
        "import os, sys, time\nif os.environ['RANK'] == '1': sys.exit(5)\ntime.sleep(60)\n",
    )
    spec = write(
        tmp_path / "job.yaml", "name: ddp-fail\ncommand: python node.py\nresources: {nodes: 2}\n"
    )
    started = time.monotonic()
    result = mlx("train", spec)
    assert time.monotonic() - started < 30
    assert result.exit_code == 1
    assert "failed: node 1 exited with code 5" in result.stderr
    assert "[mlx] node 1 exited with code 5; stopping the other nodes" in result.stdout


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_http_input_is_downloaded_into_the_job(mlx, tmp_path: Path) -> None:
    served = tmp_path / "served"
    write(served / "data.csv", "x\n1\n2\n")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Files(*a, directory=str(served))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        write(
            tmp_path / "read.py",
            "import os\nprint(open(os.environ['MLX_INPUT_DATA']).read()"
            ".count(chr(10)), os.environ['MLX_INPUT_DATA'].endswith('/inputs/data/data.csv'))\n",
        )
        url = f"http://127.0.0.1:{server.server_address[1]}/data.csv"
        spec = write(
            tmp_path / "job.yaml",
            f"name: fetch\ncommand: python read.py\ninputs: {{data: '{url}'}}\n",
        )
        result = mlx("train", spec)
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.stderr
    assert "3 True" in result.stdout
    assert f"[mlx] downloading input data from {url}" in result.stdout


def test_an_input_local_cannot_read_is_refused_and_nothing_is_recorded(mlx, tmp_path: Path) -> None:
    write(tmp_path / "t.py", "print(1)\n")
    spec = write(
        tmp_path / "job.yaml",
        "name: s3in\ncommand: python t.py\ninputs: {train: 's3://bucket/data/'}\n",
    )
    result = mlx("train", spec)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: `inputs.train`: the local provider cannot read s3:// URIs"
    )
    assert json.loads(mlx("jobs", "--json").stdout) == []


def test_outputs_are_copied_to_a_local_destination(mlx, tmp_path: Path) -> None:
    write(
        tmp_path / "save.py",
        "import os\nopen(os.path.join(os.environ['MLX_MODEL_DIR'], 'w.bin'), 'wb').write(b'abc')\n",
    )
    spec = write(
        tmp_path / "job.yaml", "name: out\ncommand: python save.py\noutputs: {model: ./exported}\n"
    )
    assert mlx("train", spec).exit_code == 0
    assert (tmp_path / "exported" / "w.bin").read_bytes() == b"abc"


def test_secrets_reach_the_job_but_no_file_or_output(
    mlx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TOKEN", "s3cr3t-value")
    write(tmp_path / "s.py", "import os\nprint('len', len(os.environ['API_TOKEN']))\n")
    spec = write(
        tmp_path / "job.yaml",
        "name: sec\ncommand: python s.py\nsecrets: {API_TOKEN: 'env:MY_TOKEN'}\n",
    )
    translated = mlx("translate", spec, "--json")
    assert "s3cr3t-value" not in translated.stdout
    assert json.loads(translated.stdout)["request"]["env"] == {"API_TOKEN": "********"}
    result = mlx("train", spec)
    assert result.exit_code == 0 and "len 12" in result.stdout
    home = Path(os.environ["MLX_HOME"])
    for path in home.rglob("*"):
        if path.is_file() and path.suffix != ".pyz":
            assert b"s3cr3t-value" not in path.read_bytes(), path


def test_missing_secret_variable_is_a_clean_error(mlx, tmp_path: Path) -> None:
    write(tmp_path / "s.py", "print(1)\n")
    spec = write(
        tmp_path / "job.yaml",
        "name: sec\ncommand: python s.py\nsecrets: {API_TOKEN: 'env:NOT_SET_ANYWHERE_123'}\n",
    )
    result = mlx("train", spec)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: `secrets.API_TOKEN` refers to $NOT_SET_ANYWHERE_123, which is not set"
    )


def test_pull_artifacts_selects_and_lands_files(mlx, tmp_path: Path) -> None:
    write(
        tmp_path / "save.py",
        "import os\n"
        "m, o = os.environ['MLX_MODEL_DIR'], os.environ['MLX_OUTPUT_DIR']\n"
        "os.makedirs(os.path.join(m, 'sub'))\n"
        "open(os.path.join(m, 'model.bin'), 'wb').write(bytes(range(256)) * 4000)\n"
        "open(os.path.join(m, 'sub', 'cfg.json'), 'w').write('{}')\n"
        "open(os.path.join(o, 'events.log'), 'w').write('tb')\n",
    )
    spec = write(tmp_path / "job.yaml", "name: arts\ncommand: python save.py\n")
    assert mlx("train", spec).exit_code == 0
    job_id = json.loads(mlx("jobs", "--json").stdout)[0]["id"]

    listing = json.loads(mlx("pull-artifacts", job_id, "--list", "--json").stdout)
    assert [(a["path"], a["size"]) for a in listing] == [
        ("model/model.bin", 1_024_000),
        ("model/sub/cfg.json", 2),
        ("output/events.log", 2),
    ]
    dest = tmp_path / "pulled"
    result = mlx(
        "pull-artifacts",
        job_id,
        "--include",
        "model/*",
        "--exclude",
        "*.json",
        "--dest",
        dest,
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["downloaded"] == ["model/model.bin"]
    assert (dest / "model" / "model.bin").read_bytes() == bytes(range(256)) * 4000
    assert sorted(p.name for p in dest.rglob("*")) == ["model", "model.bin"]  # no temp files
    again = json.loads(
        mlx("pull-artifacts", job_id, "-i", "model", "--dest", dest, "--json").stdout
    )
    assert again["skipped"] == ["model/model.bin"]
    assert again["downloaded"] == ["model/sub/cfg.json"]
    none = mlx("pull-artifacts", job_id, "--include", "nothing/*", "--dest", dest)
    assert none.exit_code == 1 and "no artifacts of" in none.stderr


def _spawn(args: list[str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlx", *args],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_logs_follow_from_another_process(mlx, tmp_path: Path) -> None:
    write(
        tmp_path / "slow.py",
        "import time\nfor i in range(6):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n",
    )
    spec = write(tmp_path / "job.yaml", "name: slow\ncommand: python slow.py\n")
    started = json.loads(mlx("train", spec, "--detach", "--json").stdout)
    assert started["state"] in ("pending", "running")
    follower = _spawn(["logs", "-f", started["id"]])
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert out == "".join(f"tick {i}\n" for i in range(6))
    assert f"Job {started['id']} succeeded" in err


def _gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped counts: it no longer runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def test_cancel_stops_the_whole_process_group(mlx, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    write(
        tmp_path / "spawn.py",
        "import subprocess, time\n"
        "p = subprocess.Popen(['sleep', '120'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "print('ready', flush=True)\ntime.sleep(120)\n",
    )
    spec = write(tmp_path / "job.yaml", "name: long\ncommand: python spawn.py\n")
    job_id = json.loads(mlx("train", spec, "--detach", "--json").stdout)["id"]
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    grandchild = int(pid_file.read_text())
    result = mlx("cancel", job_id)
    assert result.exit_code == 0, result.stderr
    assert f"Job {job_id} cancelled" in result.stderr
    assert json.loads(mlx("status", job_id, "--json").stdout)["state"] == "cancelled"
    assert _gone(grandchild)
    again = mlx("cancel", job_id)
    assert again.exit_code == 1 and "already ended (cancelled)" in again.stderr


def test_a_killed_supervisor_fails_the_job_and_stops_its_orphaned_nodes(
    mlx, tmp_path: Path
) -> None:
    pid_file = tmp_path / "script.pid"
    write(
        tmp_path / "hang.py",
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n",
    )
    spec = write(tmp_path / "job.yaml", "name: orphan\ncommand: python hang.py\n")
    job_id = json.loads(mlx("train", spec, "--detach", "--json").stdout)["id"]
    _wait_for_file(pid_file)
    job_dir = Path(os.environ["MLX_HOME"]) / "jobs" / job_id
    os.kill(int((job_dir / "supervisor.pid").read_text()), signal.SIGKILL)
    assert not _gone(int(pid_file.read_text()), timeout=0.5)  # orphaned, still running
    status = json.loads(mlx("status", job_id, "--json").stdout)
    assert status["state"] == "failed"
    assert "supervisor stopped unexpectedly" in status["message"]
    assert _gone(int(pid_file.read_text()))


def test_cancel_right_after_detach_stops_the_job_for_good(mlx, tmp_path: Path) -> None:
    """A cancel that lands before the supervisor can take a signal must still stop it."""
    write(tmp_path / "hold.py", "import time\ntime.sleep(120)\n")
    spec = write(
        tmp_path / "job.yaml", "name: early\ncommand: python hold.py\nresources: {nodes: 2}\n"
    )
    job_id = json.loads(mlx("train", spec, "--detach", "--json").stdout)["id"]
    result = mlx("cancel", job_id)
    assert result.exit_code == 0, result.stderr
    job_dir = Path(os.environ["MLX_HOME"]) / "jobs" / job_id
    deadline = time.monotonic() + 20
    while (job_dir / "supervisor.pid").exists() and not (job_dir / "exit.json").exists():
        assert time.monotonic() < deadline, "the supervisor kept running"
        time.sleep(0.1)
    assert json.loads(mlx("status", job_id, "--json").stdout)["state"] == "cancelled"
    for pid_file in job_dir.glob("node-*.pid"):
        assert _gone(int(pid_file.read_text()))


def _wait_for_file(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def test_eight_detached_trains_at_once_are_all_recorded_and_finish(mlx, tmp_path: Path) -> None:
    write(tmp_path / "quick.py", "print('done')\n")
    spec = write(tmp_path / "job.yaml", "name: burst\ncommand: python quick.py\n")
    procs = [_spawn(["train", str(spec), "--detach", "--json"]) for _ in range(8)]
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        ids.append(json.loads(out)["id"])
    assert len(set(ids)) == 8
    deadline = time.monotonic() + 60
    while True:
        jobs = json.loads(mlx("jobs", "--json").stdout)
        if all(j["state"] == "succeeded" for j in jobs) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert sorted(j["id"] for j in jobs) == sorted(ids)
    assert {j["state"] for j in jobs} == {"succeeded"}


def test_ctrl_c_while_following_detaches_and_the_job_finishes(mlx, tmp_path: Path) -> None:
    write(
        tmp_path / "slow.py",
        "import time\nprint('start', flush=True)\ntime.sleep(2)\nprint('end', flush=True)\n",
    )
    spec = write(tmp_path / "job.yaml", "name: ctrlc\ncommand: python slow.py\n")
    proc = _spawn(["train", str(spec)])
    assert proc.stdout is not None
    assert proc.stdout.readline() == "start\n"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "the job keeps running" in err and "Reattach with `mlx logs -f" in err
    job_id = json.loads(mlx("jobs", "--json").stdout)[0]["id"]
    assert mlx("logs", job_id, "-f").exit_code == 0
    assert mlx("logs", job_id).stdout == "start\nend\n"


def test_unknown_job_and_hostile_ids(mlx) -> None:
    for ref in ("nope", "x'; DROP TABLE jobs; --", "../../etc/passwd"):
        result = mlx("status", ref)
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ")
        assert "Traceback" not in result.stderr


def test_jobs_filters(mlx, tmp_path: Path) -> None:
    write(tmp_path / "ok.py", "print(1)\n")
    write(tmp_path / "bad.py", "raise SystemExit(2)\n")
    ok = write(tmp_path / "ok.yaml", "name: ok\ncommand: python ok.py\n")
    bad = write(tmp_path / "bad.yaml", "name: bad\ncommand: python bad.py\n")
    mlx("train", ok)
    mlx("train", bad)
    failed = json.loads(mlx("jobs", "--status", "failed", "--json").stdout)
    assert [j["name"] for j in failed] == ["bad"]
    assert len(json.loads(mlx("jobs", "--provider", "local", "--json").stdout)) == 2
    assert json.loads(mlx("jobs", "--provider", "sagemaker", "--json").stdout) == []
    assert json.loads(mlx("jobs", "--since", "1h", "--json").stdout)[0]["name"] == "bad"
    wrong = mlx("jobs", "--status", "done")
    assert wrong.exit_code == 1 and "is not a state" in wrong.stderr
