"""Each local job and trial runs in its own copy of the code (issue #14, item 6): the
user's folder is never written, parallel trials never share a file, and the copy holds
what a cloud upload would (``.mlxignore``, the default skips)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from tests.conftest import write

# Writes beside itself, rewrites a file it was given, and leaves MLflow-style litter.
LITTERING = """\
import json, os, sys
seen = {"cwd": os.getcwd(), "data": open("data.csv").read()}
with open("data.csv", "w") as f:  # rewritten in place: the file's own inode
    f.write("rewritten by the job\\n")
with open("params.json", "a") as f:
    f.write("appended\\n")
os.makedirs("mlruns/0", exist_ok=True)
open("mlruns/0/meta.yaml", "w").write("run")
open("mlflow.db", "wb").write(b"sqlite")
try:
    open("frozen.bin", "r+b").write(b"X")
    seen["frozen"] = "written"
except PermissionError:
    seen["frozen"] = "refused"
os.replace("params.json", "frozen.bin")  # replacing a linked file unlinks the job's link only
seen["entries"] = sorted(os.listdir("."))
with open(os.path.join(os.environ["MLX_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump(seen, f)
print("loss=0.5")
"""


AS_ROOT = os.geteuid() == 0


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and mode."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def project(root: Path, **extra: str) -> Path:
    code = root / "code"
    write(code / "train.py", LITTERING)
    write(code / "data.csv", "a,b\n1,2\n")
    write(code / "params.json", "{}\n")
    frozen = write(code / "frozen.bin", "large read-only data\n")
    frozen.chmod(0o444)  # nobody may write it: the copy may link it
    for name, text in extra.items():
        write(code / name, text)
    body = "name: litter\ncommand: python train.py\ncode: code\nmetrics: [{name: loss}]\n"
    return write(root / "job.yaml", body)


def job_dir(job: str) -> Path:
    return Path(os.environ["MLX_HOME"]) / "jobs" / job


def test_a_job_that_writes_and_rewrites_files_leaves_the_code_folder_untouched(
    mlx: Any, tmp_path: Path
) -> None:
    spec = project(tmp_path)
    before = snapshot(tmp_path / "code")
    result = mlx("train", spec, "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["id"]
    assert snapshot(tmp_path / "code") == before  # not a byte, not a mode, no new file
    seen = json.loads((job_dir(job) / "artifacts/model/seen.json").read_text())
    assert seen["cwd"] == str(job_dir(job) / "code")
    assert seen["data"] == "a,b\n1,2\n"
    # Linked, so as read-only as in the user's folder; root may write anything, so as
    # root it was copied (and the write went to the copy: the snapshot above held).
    assert seen["frozen"] == ("written" if AS_ROOT else "refused")
    assert {"mlruns", "mlflow.db"} <= set(seen["entries"])
    # What the job wrote is in its own folder.
    work = job_dir(job) / "code"
    assert (work / "data.csv").read_text() == "rewritten by the job\n"
    assert (work / "frozen.bin").read_text() == "{}\nappended\n"
    assert (work / "mlruns/0/meta.yaml").read_text() == "run"


def test_the_copy_is_taken_at_submit_and_links_only_read_only_files(
    mlx: Any, tmp_path: Path
) -> None:
    spec = project(tmp_path)
    result = mlx("translate", spec, "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)["request"]
    assert plan["workdir"].endswith("/code") and plan["workdir"] != str(tmp_path / "code")
    job = json.loads(mlx("train", spec, "--json", "--detach").stdout)["id"]
    placed = json.loads((job_dir(job) / "plan.json").read_text())["workdir_files"]
    # ext4 and tmpfs have no copy-on-write clone: the read-only file is linked (never for
    # root, whom no mode stops), the rest copied; with clones, all are cloned.
    assert placed["linked"] == (0 if AS_ROOT or placed["cloned"] else 1)
    assert placed["linked"] + placed["cloned"] + placed["copied"] == 4
    sizes = {p.name: p.stat().st_size for p in (tmp_path / "code").iterdir()}
    if not placed["cloned"]:
        linked = 0 if AS_ROOT else sizes["frozen.bin"]
        assert placed["copied_bytes"] == sum(sizes.values()) - linked


def test_mlxignore_and_the_default_skips_shape_the_local_copy(mlx: Any, tmp_path: Path) -> None:
    spec = project(tmp_path, **{".mlxignore": "*.ckpt\nscratch/\n!keep.ckpt\n"})
    for name in ("a.ckpt", "keep.ckpt", "scratch/x.txt", ".git/HEAD", "__pycache__/m.pyc"):
        write(tmp_path / "code" / name, "x")
    write(tmp_path / "code" / "env" / "pyvenv.cfg", "home = /usr/bin\n")  # a venv by content
    write(tmp_path / "code" / "env" / "lib" / "big.py", "x")
    write(tmp_path / "code" / "mlruns" / "old" / "meta.yaml", "old run")
    result = mlx("train", spec, "--json")
    assert result.exit_code == 0, result.stderr
    work = job_dir(json.loads(result.stdout)["id"]) / "code"
    found = {p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()}
    assert "keep.ckpt" in found and ".mlxignore" in found
    for left_out in ("a.ckpt", "scratch/x.txt", ".git/HEAD", "__pycache__/m.pyc"):
        assert left_out not in found
    assert not any(name.startswith(("env/", "mlruns/old")) for name in found)


def test_translate_lists_what_each_job_copies(mlx: Any, tmp_path: Path) -> None:
    spec = project(tmp_path, **{".mlxignore": "data.csv\n"})
    write(tmp_path / "code" / "weights.bin", "w" * 5000)
    write(tmp_path / "code" / ".venv" / "lib" / "huge.so", "x" * 9000)
    result = mlx("translate", spec, "--json")
    assert result.exit_code == 0, result.stderr
    (copied,) = json.loads(result.stdout)["copies"]
    assert copied["what"] == "code" and copied["source"] == str(tmp_path / "code")
    names = {"train.py", "params.json", "frozen.bin", "weights.bin", ".mlxignore"}
    assert copied["files"] == len(names)
    sizes = {n: (tmp_path / "code" / n).stat().st_size for n in names}
    assert copied["bytes"] == sum(sizes.values())
    assert copied["largest"][0] == {"path": "weights.bin", "bytes": 5000}
    shown = mlx("translate", spec).stderr
    assert f"code from {tmp_path / 'code'}: 5 files, " in shown
    assert "largest: weights.bin 5.0 KB" in shown


# Two trials at once, each writing the same file name beside the script, then reading it.
SAME_NAME = """\
import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
x = p.parse_args().x
with open("scratch.txt", "w") as f:
    f.write(repr(x))
time.sleep(0.6)  # both trials hold their file at once
print("loss=" + str(abs(float(open("scratch.txt").read()) - x)))
"""


def test_parallel_trials_writing_the_same_file_name_never_see_each_other(
    mlx: Any, tmp_path: Path
) -> None:
    write(tmp_path / "code" / "trial.py", SAME_NAME)
    spec = write(
        tmp_path / "tune.yaml",
        """\
name: same-name
command: python trial.py
code: code
metrics: [{name: loss}]
tune:
  objective: {metric: loss, goal: minimize}
  algorithm: random
  max_trials: 4
  parallel_trials: 4
  parameters:
    x: {type: float, min: 0, max: 1}
""",
    )
    result = mlx("tune", spec, "--json")
    assert result.exit_code == 0, result.stderr
    trials = json.loads(result.stdout)["trials"]
    assert [t["state"] for t in trials] == ["succeeded"] * 4
    assert [t["objective"] for t in trials] == [0.0] * 4  # each read back its own value
    for trial in trials:
        written = (job_dir(trial["id"]) / "code" / "scratch.txt").read_text()
        assert float(written) == trial["params"]["x"]
    assert not (tmp_path / "code" / "scratch.txt").exists()


def test_links_into_the_code_point_into_the_copy_and_links_out_of_it_stay(
    mlx: Any, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    write(code / "train.py", 'open("latest.txt", "w").write("through the link")\n')
    write(code / "ckpt" / "3.txt", "checkpoint 3")
    write(tmp_path / "shared" / "vocab.txt", "a b c")
    (code / "latest.txt").symlink_to("ckpt/3.txt")
    (code / "vocab").symlink_to(tmp_path / "shared")
    spec = write(tmp_path / "job.yaml", "name: links\ncommand: python train.py\ncode: code\n")
    result = mlx("train", spec, "--json")
    assert result.exit_code == 0, result.stderr
    work = job_dir(json.loads(result.stdout)["id"]) / "code"
    assert os.readlink(work / "latest.txt") == "ckpt/3.txt"
    assert (work / "ckpt" / "3.txt").read_text() == "through the link"
    assert (code / "ckpt" / "3.txt").read_text() == "checkpoint 3"
    assert (work / "vocab").resolve() == (tmp_path / "shared").resolve()
