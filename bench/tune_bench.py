"""Local tuning benchmarks: mlx's overhead per trial, and bayesian vs random search.

    python bench/tune_bench.py [--trials 20] [--seeds 10]

1. Overhead: a script that sleeps 50 ms is tuned for N trials, one at a time. The span from
   the first trial's start to the last trial's end (from the job store; the driver's own
   start-up and Optuna's import are excluded), divided by N, minus the time the same
   script takes run directly N times in a row (the baseline, measured in the same run).
2. Search quality: the mean best loss of (x-3)^2 + (y+1)^2 over x, y in [-10, 10] after
   N trials, over S seeds, for `bayesian` and `random`.

PYTHONDONTWRITEBYTECODE is removed from the environment (it makes every start 2-4x slower).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SLEEPER = (
    "import argparse, time\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
    "a = p.parse_args()\ntime.sleep(0.05)\nprint(f'loss={a.x ** 2}')\n"
)
QUADRATIC = (
    "import argparse\np = argparse.ArgumentParser()\np.add_argument('--x', type=float)\n"
    "p.add_argument('--y', type=float)\na = p.parse_args()\n"
    "print(f'loss={(a.x - 3) ** 2 + (a.y + 1) ** 2}')\n"
)


def spec(root: Path, script: str, params: str, trials: int) -> Path:
    (root / "script.py").write_text(script)
    path = root / "tune.yaml"
    path.write_text(f"""name: bench
command: python script.py
metrics: [{{name: loss}}]
tune:
  objective: {{metric: loss}}
  algorithm: random
  max_trials: {trials}
  parameters:
{params}
""")
    return path


def mlx(args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "mlx", *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def overhead(trials: int, env: dict[str, str]) -> dict[str, float]:
    root = Path(tempfile.mkdtemp())
    path = spec(root, SLEEPER, "    x: {type: float, min: -1, max: 1}", trials)
    start = time.perf_counter()
    for _ in range(trials):
        subprocess.run(
            [sys.executable, str(root / "script.py"), "--x", "0.5"],
            env=env,
            check=True,
            capture_output=True,
        )
    direct = (time.perf_counter() - start) / trials
    start = time.perf_counter()
    study = mlx(["tune", str(path), "--json"], env)
    total = time.perf_counter() - start
    db = sqlite3.connect(Path(env["MLX_HOME"]) / "jobs.db")
    first, last = db.execute(
        "SELECT min(created_at), max(ended_at) FROM jobs WHERE parent_id = ?", (study["id"],)
    ).fetchone()
    per_trial = (last - first) / trials
    return {
        "direct": direct,
        "per_trial": per_trial,
        "overhead": per_trial - direct,
        "total": total,
    }


def search(trials: int, seeds: int, env: dict[str, str]) -> dict[str, list[float]]:
    root = Path(tempfile.mkdtemp())
    path = spec(
        root,
        QUADRATIC,
        "    x: {type: float, min: -10, max: 10}\n    y: {type: float, min: -10, max: 10}",
        trials,
    )
    results: dict[str, list[float]] = {"bayesian": [], "random": []}
    for seed in range(seeds):
        for algorithm in results:
            study = mlx(
                [
                    "tune",
                    str(path),
                    "--json",
                    "--set",
                    f"tune.seed={seed}",
                    "--set",
                    f"tune.algorithm={algorithm}",
                ],
                env,
            )
            results[algorithm].append(study["best"]["objective"])
    return results


def tpe_reference(trials: int, seeds: int) -> list[float]:
    """Optuna's default TPE on the same function, in-process: what `bayesian` would be
    without mlx's Gaussian-process sampler."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        x, y = trial.suggest_float("x", -10, 10), trial.suggest_float("y", -10, 10)
        return (x - 3) ** 2 + (y + 1) ** 2

    bests = []
    for seed in range(seeds):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=trials)
        bests.append(study.best_value)
    return bests


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["MLX_HOME"] = tempfile.mkdtemp(prefix="mlx-bench-")
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"# tuning, {time.strftime('%Y-%m-%d')}, {platform.node()}, {cpu}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    o = overhead(args.trials, env)
    print(f"\nOverhead, {args.trials} trials of a 50 ms script, one at a time:")
    print(f"- script run directly: {o['direct'] * 1000:.0f} ms per run (baseline)")
    print(f"- per trial under mlx tune: {o['per_trial'] * 1000:.0f} ms")
    print(f"- **overhead per trial: {o['overhead'] * 1000:.0f} ms** (target <= 100 ms)")
    print(f"- whole `mlx tune` command incl. start-up: {o['total']:.1f} s")
    r = search(args.trials, args.seeds, env)
    print(
        f"\nBest loss after {args.trials} trials over {args.seeds} seeds "
        "((x-3)^2 + (y+1)^2, optimum 0):"
    )
    print("| algorithm | mean best | median best | worst |")
    print("|---|---:|---:|---:|")
    r["Optuna TPE (reference)"] = tpe_reference(args.trials, args.seeds)
    for name, values in r.items():
        print(
            f"| {name} | {statistics.mean(values):.4f} | {statistics.median(values):.4f} | "
            f"{max(values):.4f} |"
        )


if __name__ == "__main__":
    main()
