"""Startup benchmark: `mlx --help`, `mlx translate` and `mlx jobs` on an empty store against a
one-command Typer app.

    python bench/startup.py [--runs 30]

Each command runs as a fresh process, interleaved round-robin so machine noise hits all
of them alike; the baseline is measured in the same run. PYTHONDONTWRITEBYTECODE is
removed from the environment (with it set, every start recompiles and is 2-4x slower),
and one warm-up round writes the bytecode caches first.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE_APP = '''
import typer
app = typer.Typer()
@app.command()
def hello(name: str) -> None:
    """Say hello."""
    print(name)
app()
'''


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=REPO
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["MLX_HOME"] = tempfile.mkdtemp(prefix="mlx-bench-")
    baseline = Path(tempfile.mkdtemp()) / "baseline_app.py"
    baseline.write_text(BASELINE_APP)
    commands = {
        "typer one-command app --help (baseline)": [sys.executable, str(baseline), "--help"],
        "mlx --help": [sys.executable, "-m", "mlx", "--help"],
        # The same app without Typer's --install-completion/--show-completion options
        # (issue #17 turned them on): what shell completion costs at startup.
        "mlx --help, completion options off": [
            sys.executable,
            "-c",
            "import sys; sys.argv = ['mlx', '--help']; import mlx.cli as c; "
            "c.app._add_completion = False; c.main()",
        ],
        "mlx translate configs/quickstart.yaml": [
            sys.executable,
            "-m",
            "mlx",
            "translate",
            "configs/quickstart.yaml",
            "--json",
        ],
        # Typer (0.2x) coerces a command's parameters through pydantic TypeAdapters when it
        # runs one, which --help does not: the fair baseline for a command that runs.
        "typer one-command app, run (`world` as its argument)": [
            sys.executable,
            str(baseline),
            "world",
        ],
        "mlx jobs (an empty store)": [sys.executable, "-m", "mlx", "jobs"],
    }
    for argv in commands.values():  # warm-up: bytecode caches, page cache
        _time(argv, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            samples[name].append(_time(argv, env))
    base = statistics.median(samples["typer one-command app --help (baseline)"])
    print(
        f"# startup, {args.runs} runs each, {time.strftime('%Y-%m-%d')}, "
        f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    )
    print("| command | median ms | p90 ms | × baseline |")
    print("|---|---:|---:|---:|")
    for name, values in samples.items():
        values.sort()
        p90 = values[int(len(values) * 0.9) - 1]
        median = statistics.median(values)
        print(f"| {name} | {median * 1000:.0f} | {p90 * 1000:.0f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
