"""Listing benchmark: `mlx jobs` over stores of 10,000 and 100,000 jobs, beside a
one-command Typer app, in one run.

    python bench/listing.py [--runs 7] [--sizes 10000 100000]

Each store is filled once through ``mlx.store.Store.insert`` (jobs of the four providers,
ended, with a spec of realistic size: tags, hyperparameters, resources, a provider block)
and kept under the temporary directory for later runs. Every command runs as a fresh
process with stdout to a pipe that is read and discarded, interleaved round-robin so
machine noise hits all of them alike; medians are reported, with each process's CPU
seconds (user + system), which a loaded machine inflates least. PYTHONDONTWRITEBYTECODE is
removed from the environment (with it set, every start recompiles), and one warm-up round
writes the bytecode caches first.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BASELINE_APP = '''
import typer
app = typer.Typer()
@app.command()
def hello(name: str) -> None:
    """Say hello."""
    print(name)
app()
'''
PROVIDERS = ("local", "sagemaker", "vertex", "azure")


def _spec(i: int) -> dict[str, object]:
    """A spec of the size users store: tags, hyperparameters, resources, a provider block."""
    return {
        "name": f"bench-{i % 17}",
        "image": "python:3.11-slim",
        "command": "python train.py",
        "code": "./src",
        "hyperparameters": {"learning-rate": 0.01, "layers": [64, 32], "epochs": i % 50},
        "inputs": {"train": "s3://bucket/data/train/", "test": "./data/test.csv"},
        "resources": {"accelerator": "A100:1", "cpus": 8, "memory": "32GB", "nodes": 1},
        "env": {"LOG_LEVEL": "info"},
        "metrics": [{"name": "val_loss", "regex": "val_loss=([-+0-9.eE]+)"}],
        "tags": {"team": "vision", "run": str(i)},
        "sagemaker": {"role": "arn:aws:iam::123456789012:role/SageMakerRole", "region": "x"},
    }


def fill(home: Path, count: int) -> None:
    """``count`` ended jobs in ``home``/jobs.db, created one minute apart."""
    from mlx.model import JobRecord, JobState
    from mlx.store import Store

    store = Store(home / "jobs.db")
    rng = random.Random(count)
    now = time.time()
    states = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
    for i in range(count):
        created = now - (count - i) * 60
        store.insert(
            JobRecord(
                id=f"bench-{i % 17}-{i:06d}x",
                provider=PROVIDERS[i % 4],
                name=f"bench-{i % 17}",
                state=rng.choice(states),
                spec=_spec(i),
                created_at=created,
                updated_at=created + 300,
                ended_at=created + rng.uniform(10, 9000),
                native_id=f"native-{i}",
                artifacts_uri=f"s3://bucket/mlx/bench-{i}/",
                info={"started_at": created + 5},
                metrics={"val_loss": rng.random()},
            )
        )
    store.close()


def _store(count: int) -> Path:
    home = Path(tempfile.gettempdir()) / f"mlx-bench-listing-{count}"
    if not (home / "filled").exists():
        home.mkdir(exist_ok=True)
        (home / "jobs.db").unlink(missing_ok=True)
        started = time.perf_counter()
        fill(home, count)
        (home / "filled").write_text("")
        print(f"filled {count} jobs in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return home


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the process (user + system: what a loaded machine
    inflates least)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NO_COLOR="1", COLUMNS="80")
    baseline = Path(tempfile.mkdtemp()) / "baseline_app.py"
    baseline.write_text(BASELINE_APP)
    mlx = [sys.executable, "-m", "mlx", "jobs"]
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "typer one-command app --help (baseline)": ([sys.executable, str(baseline), "--help"], env)
    }
    for size in args.sizes:
        home = {**env, "MLX_HOME": str(_store(size))}
        commands[f"{size:,} jobs: mlx jobs (50 rows)"] = (mlx, home)
        commands[f"{size:,} jobs: mlx jobs --limit 50"] = ([*mlx, "--limit", "50"], home)
        commands[f"{size:,} jobs: mlx jobs -n {size} (all)"] = ([*mlx, "-n", str(size)], home)
        commands[f"{size:,} jobs: mlx jobs -n {size} --json"] = (
            [*mlx, "-n", str(size), "--json"],
            home,
        )
    for argv, cmd_env in commands.values():  # warm-up: bytecode caches, page cache
        _time(argv, cmd_env)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, (argv, cmd_env) in commands.items():
            samples[name].append(_time(argv, cmd_env))
    base = statistics.median(w for w, _ in samples["typer one-command app --help (baseline)"])
    print(
        f"# listing, {args.runs} runs each, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}),"
        f" load {os.getloadavg()[0]:.1f}, PYTHONDONTWRITEBYTECODE unset"
    )
    print("| command | median | min | vs baseline | CPU (median) |")
    print("|---|---|---|---|---|")
    for name, values in samples.items():
        median = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        fastest = min(w for w, _ in values)
        print(f"| {name} | {median:.3f} s | {fastest:.3f} s | {median / base:.2f}x | {cpu:.3f} s |")


if __name__ == "__main__":
    main()
