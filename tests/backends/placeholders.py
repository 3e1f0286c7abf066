"""A job that uses every placeholder, shared by the local and emulated-cloud tests: the
script records the argv it saw, checks that each path is there (it reads the input file,
lists the input folder, writes into every output folder through the path it was given) and
compares it with the in-job contract's variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import write

SCRIPT = """
import json, os, sys
argv = sys.argv[1:]
opts = dict(zip(argv[1::2], argv[2::2]))
names = ("MLX_INPUT_TRAIN", "MLX_INPUT_FOLDER", "MLX_MODEL_DIR", "MLX_CHECKPOINT_DIR",
         "MLX_OUTPUT_DIR", "MLX_JOB_ID", "MLX_NODE_RANK")
seen = {
    "argv": argv,
    "env": {k: os.environ.get(k) for k in names},
    "data": open(opts["--data"]).read(),
    "folder": sorted(os.listdir(opts["--dir"])),
}
rank = os.environ["MLX_NODE_RANK"]
for flag in ("--ckpt", "--out"):
    with open(os.path.join(opts[flag], "written-%s.txt" % rank), "w") as f:
        f.write(flag)
with open(os.path.join(opts["--model"], "seen-%s.json" % rank), "w") as f:
    json.dump(seen, f)
print("placeholders ok on node", rank, flush=True)
"""

# Placeholders in the command (inside a word), in `args` and in hyperparameter values.
FIELDS: dict[str, Any] = {
    "command": "python job.py --name=${{name}}",
    "code": "./code",
    "args": ["--data", "${{inputs.train}}", "--dir", "${{inputs.folder}}"],
    "inputs": {"train": "./data/train.csv", "folder": "./data/folder"},
    "hyperparameters": {
        "model": "${{outputs.model}}",
        "ckpt": "${{outputs.checkpoints}}",
        "out": "${{outputs.output}}",
    },
}


def project(root: Path) -> dict[str, Any]:
    """Write the script and the inputs under ``root`` (the spec's folder); the spec fields."""
    write(root / "code" / "job.py", SCRIPT)
    write(root / "data" / "train.csv", "a,b\n1,2\n")
    write(root / "data" / "folder" / "inside.txt", "x")
    return dict(FIELDS)


def check_seen(seen: dict[str, Any], job: str) -> dict[str, str]:
    """What every provider must have given the script; returns the option -> path map."""
    argv = seen["argv"]
    env = seen["env"]
    assert argv[0] == f"--name={job}" == f"--name={env['MLX_JOB_ID']}"
    opts = dict(zip(argv[1::2], argv[2::2]))
    assert list(opts) == ["--data", "--dir", "--model", "--ckpt", "--out"]
    # A file input is the file itself; a folder input the folder.
    assert opts["--data"] == env["MLX_INPUT_TRAIN"] and opts["--data"].endswith("/train.csv")
    assert seen["data"] == "a,b\n1,2\n"
    assert opts["--dir"] == env["MLX_INPUT_FOLDER"] and seen["folder"] == ["inside.txt"]
    assert opts["--model"] == env["MLX_MODEL_DIR"]
    assert opts["--ckpt"] == env["MLX_CHECKPOINT_DIR"]
    assert opts["--out"] == env["MLX_OUTPUT_DIR"]
    assert "${{" not in " ".join(argv)
    return opts


def pulled(mlx: Any, job: str, dest: Path, *flags: str) -> dict[str, Path]:
    """``pull-artifacts`` into ``dest``: relative path -> file."""
    result = mlx("pull-artifacts", job, *flags, "--dest", dest)
    assert result.exit_code == 0, result.stderr
    return {p.relative_to(dest).as_posix(): p for p in dest.rglob("*") if p.is_file()}


def tuned_strtobool(mlx: Any, tmp_path: Path, cloud: dict[str, Any]) -> None:
    """A tuned boolean reaches a strtobool script as True or False in every trial
    (`bool_style: value`), and `${{name}}` is the trial's mlx id; ``cloud``: the spec's
    provider, image and settings."""
    import json

    import yaml

    from tests.backends.bool_scripts import STRTOBOOL

    write(tmp_path / "project" / "code" / "job.py", STRTOBOOL)
    doc = {
        "name": "bools",
        **cloud,
        "command": "python job.py --run ${{name}}",
        "code": "./code",
        "hyperparameters": {"shrinking": False},
        "bool_style": "value",
        "metrics": [{"name": "loss"}],
        "tune": {
            "objective": {"metric": "loss", "goal": "minimize"},
            "algorithm": "grid",
            "max_trials": 2,
            "parameters": {"amp": {"type": "choice", "values": [True, False]}},
        },
    }
    path = write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))
    result = mlx("tune", path, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert {t["params"]["amp"] for t in summary["trials"]} == {True, False}
    for trial in summary["trials"]:
        number, amp = trial["number"], trial["params"]["amp"]
        dest = tmp_path / f"trial-{number}"
        files = pulled(mlx, summary["id"], dest, "--trial", str(number), "--include", "model/*")
        seen = json.loads(files["model/seen.json"].read_text())
        run = f"{summary['id']}-t{number}"
        assert seen["argv"] == ["--run", run, "--shrinking", "False", "--amp", str(amp)]
        assert (seen["amp"], seen["shrinking"], seen["run"]) == (amp, False, run)
    assert summary["best"]["params"] == {"amp": True}
