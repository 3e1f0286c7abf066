"""``tune.engine: mlx`` against local tuning: the same search on every emulated cloud.

    python bench/engine.py [--seeds 1,2,3,4,5] [--trials 6] [--parallel 1,2] [--out FILE]

For each seed and each ``parallel_trials``, the objective (x - 0.3)^2 over x in [0, 1]
(``tests/tuning/engine_scenarios.OBJECTIVE``) is tuned with the GP sampler (``bayesian``)
and the same budget on local and, with ``tune.engine: mlx``, on SageMaker, Vertex AI and
Azure ML as the test suite emulates them (every trial a training job the emulated cloud
runs through its platform runner, in the sandbox). Reported per cloud: the median and
worst best value over the seeds, for the cloud and for local in the same run, and how many
seeds gave exactly local's trials (one at a time, each sample depends only on the seed and
the values told; in parallel, on which trials ended first). Seconds are wall time against
127.0.0.1 servers: relative to each other only.

The cases run under pytest (``bench/engine_cases.py``) because the emulated clouds are
its fixtures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(seeds: str, trials: int, parallel: str, out: Path) -> None:
    env = {
        **os.environ,
        "MLX_BENCH_OUT": str(out),
        "MLX_BENCH_SEEDS": seeds,
        "MLX_BENCH_TRIALS": str(trials),
        "MLX_BENCH_PARALLEL": parallel,
        "PYTHONPATH": str(REPO),
    }
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest"]
    argv += ["-p", "tests.backends.vertex.conftest", "-p", "tests.backends.azure.conftest"]
    argv += ["-p", "tests.backends.sagemaker.conftest", str(REPO / "bench" / "engine_cases.py")]
    subprocess.run(argv, env=env, cwd=REPO, check=True)


def table(rows: list[dict]) -> str:
    groups: dict[tuple[str, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        side = "local" if row["provider"] == "local" else "cloud"
        groups[(row["cloud"], row["parallel"])][side].append(row)
    lines = [
        "| cloud | parallel | seeds | best, median (cloud / local) | best, worst (cloud / "
        "local) | same trials as local | seconds, median (cloud / local) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (cloud, parallel), sides in sorted(groups.items()):
        cloud_rows = sorted(sides["cloud"], key=lambda r: r["seed"])
        local_rows = sorted(sides["local"], key=lambda r: r["seed"])
        same = sum(c["params"] == h["params"] for c, h in zip(cloud_rows, local_rows))

        def med(rs: list[dict], key: str) -> float:
            return statistics.median(r[key] for r in rs)

        lines.append(
            f"| {cloud} | {parallel} | {len(cloud_rows)} | {med(cloud_rows, 'best'):.2e} / "
            f"{med(local_rows, 'best'):.2e} | {max(r['best'] for r in cloud_rows):.2e} / "
            f"{max(r['best'] for r in local_rows):.2e} | {same}/{len(cloud_rows)} | "
            f"{med(cloud_rows, 'seconds'):.1f} / {med(local_rows, 'seconds'):.1f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{date.today().isoformat()}; {platform.platform()}; nproc {os.cpu_count()}; "
        f"Python {platform.python_version()}; load average {load[0]:.1f} (the machine is shared)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--parallel", default="1,2")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="mlx-bench-")) / "engine.jsonl"
    run(args.seeds, args.trials, args.parallel, out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    print(f"Machine: {machine()}\n")
    print(f"(x - 0.3)^2, bayesian (GP), {args.trials} trials, seeds {args.seeds}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
