"""``mlx init SCRIPT``: a spec from the script's argparse flags, read without running it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import write

SCRIPT = """\
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("--learning-rate", type=float, default=1e-3, help="step size,
  per batch")
p.add_argument("--epochs", type=int, default="5")
p.add_argument("--use-amp", action="store_true")
p.add_argument("--no-shuffle", dest="shuffle", action="store_false")
p.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
p.add_argument("--tag", default="run: 1 # not a comment")
p.add_argument("--layers", type=int, nargs="+", default=[64, 32])
p.add_argument("--seed", type=int)
p.add_argument("--workers", type=int, default=os.cpu_count())
p.add_argument("-v", "--verbose", action="count", default=0)
args = p.parse_args()
print("ARGS=" + json.dumps(vars(args), sort_keys=True))
""".replace(',\n  per batch")', ' per batch")')


def test_spec_reproduces_the_scripts_defaults(mlx: Any, tmp_path: Path, monkeypatch) -> None:
    """Run through mlx with the written spec, the script sees what it sees without any
    argument (and the spec's values are typed as argparse would type them)."""
    script = write(tmp_path / "proj" / "train.py", SCRIPT)
    monkeypatch.chdir(tmp_path / "proj")
    made = mlx("init", "train.py")
    assert made.exit_code == 0, made.stderr
    assert "Wrote job.yaml with 6 hyperparameter(s) from train.py" in made.stderr
    assert "--seed (no default)" in made.stderr
    spec = yaml.safe_load((tmp_path / "proj" / "job.yaml").read_text())
    assert spec["hyperparameters"] == {
        "learning-rate": 0.001,
        "epochs": 5,
        "use-amp": False,
        "no-shuffle": False,
        "optimizer": "adam",
        "tag": "run: 1 # not a comment",
    }
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    ran = mlx("train", "job.yaml")
    assert ran.exit_code == 0, ran.stderr
    seen = [line for line in ran.stdout.splitlines() if line.startswith("ARGS=")]
    assert seen == [plain.stdout.strip()]
    assert json.loads(seen[0][5:])["learning_rate"] == 0.001


def test_the_script_is_never_run(mlx: Any, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = write(
        tmp_path / "t.py",
        f"import argparse\nopen({str(marker)!r}, 'w')\n"
        "argparse.ArgumentParser().add_argument('--lr', default=0.1)\n",
    )
    result = mlx("init", script, "--output", tmp_path / "spec.yaml")
    assert result.exit_code == 0, result.stderr
    assert not marker.exists()
    assert yaml.safe_load((tmp_path / "spec.yaml").read_text())["hyperparameters"] == {"lr": 0.1}


def test_never_overwrites(mlx: Any, tmp_path: Path) -> None:
    script = write(tmp_path / "t.py", "import argparse\nargparse.ArgumentParser()\n")
    target = write(tmp_path / "job.yaml", "mine\n")
    result = mlx("init", "--output", target)
    assert result.exit_code == 1
    assert f"Error: {target} exists; nothing was written" in result.stderr
    assert target.read_text() == "mine\n"
    no_flags = mlx("init", script, "--output", tmp_path / "other.yaml")
    assert no_flags.exit_code == 1
    assert "declares no argparse options" in no_flags.stderr
    broken = write(tmp_path / "b.py", "def (:\n")
    result = mlx("init", broken, "--output", tmp_path / "b.yaml")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1,
        f"Error: {broken}:1: not valid Python (invalid syntax)",
    )


def test_without_a_script_a_starter_spec_that_validates(mlx: Any, tmp_path: Path) -> None:
    target = tmp_path / "starter.yaml"
    assert mlx("init", "--output", target).exit_code == 0
    write(tmp_path / "train.py", "print('hi')\n")  # the script the starter names
    result = mlx("translate", target, "--json")
    assert result.exit_code == 0, result.stderr
