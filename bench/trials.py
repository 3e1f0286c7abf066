"""Per-trial overhead of local tuning, beside `xargs -P4`, in one run.

    python bench/trials.py [--trials 200] [--runs 3]

1. `mlx tune` of a trivial script (prints `loss=...`, nothing else), `max_trials` N,
   `parallel_trials: 4`, algorithm random: the span from the first trial's start to the
   last trial's end (from the job store: the driver's own start-up and Optuna's import are
   left out) beside `xargs -P4` running the same script N times (the baseline).
2. The bootstrap alone, N starts 4 at a time through `xargs -P4`: a config with no
   metrics, where it hands its process to the command (`may_exec`), and the same config
   with one metric, where it stays to read the output; beside the script started directly.
3. `--chatty`: instead, one script printing 200,000 lines, run directly, through the
   bootstrap that becomes it (no metrics), the bootstrap that stays without metrics
   (`may_exec` off: what it did before) and with one metric: CPU seconds of each (children's
   rusage, less sensitive to the machine's load than wall time).

PYTHONDONTWRITEBYTECODE is removed from the environment (with it set, every start
recompiles). Medians over the runs; the machine's load is printed.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SCRIPT = "import sys\nprint('loss=%s' % (float(sys.argv[-1]) ** 2 if len(sys.argv) > 1 else 0))\n"


def tune_spec(root: Path, trials: int) -> Path:
    (root / "script.py").write_text(SCRIPT)
    path = root / "tune.yaml"
    path.write_text(
        "name: bench\ncommand: python script.py\nmetrics: [{name: loss}]\n"
        "tune:\n  objective: {metric: loss}\n  algorithm: random\n"
        f"  max_trials: {trials}\n  parallel_trials: 4\n"
        "  parameters:\n    x: {type: float, min: -1, max: 1}\n"
    )
    return path


def xargs(argv: list[str], count: int, env: dict[str, str], cwd: Path) -> float:
    """Seconds for ``count`` runs of ``argv`` through ``xargs -P4``."""
    lines = "".join(f"{i}\n" for i in range(count))
    start = time.perf_counter()
    subprocess.run(
        ["xargs", "-P4", "-n1", *argv],
        input=lines.encode(),
        env=env,
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def tune_span(trials: int, env: dict[str, str]) -> float:
    """Seconds from the first trial's start to the last trial's end."""
    root = Path(tempfile.mkdtemp())
    home = Path(tempfile.mkdtemp(prefix="mlx-bench-"))
    run_env = {**env, "MLX_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-m", "mlx", "tune", str(tune_spec(root, trials)), "--json"],
        env=run_env,
        capture_output=True,
        text=True,
        check=True,
    )
    study = json.loads(out.stdout)
    db = sqlite3.connect(home / "jobs.db")
    first, last = db.execute(
        "SELECT min(created_at), max(ended_at) FROM jobs WHERE parent_id = ?", (study["id"],)
    ).fetchone()
    return float(last - first)


def bootstrap_argv(
    root: Path, metrics: bool, may_exec: bool = True, *, zipapp: bool = False
) -> list[str]:
    """The bootstrap as the local supervisor starts it (unpacked and compiled), with a
    config of its own; ``zipapp``: from the zipapp, as local jobs ran it before."""
    from mlx.bootstrap_package import bootstrap_path, unpacked_bootstrap

    config = {
        "job_id": "bench",
        "model_dir": str(root / "model"),
        "checkpoint_dir": str(root / "checkpoints"),
        "output_dir": str(root / "output"),
        "channels_dir": str(root),
        "workdir": str(root),
        "may_exec": may_exec,
        "metrics": [{"name": "loss", "regex": "loss=([-+0-9.eE]+)"}] if metrics else [],
        "metrics_file": str(root / "metrics.jsonl"),
    }
    path = root / f"config-{metrics}-{may_exec}.json"
    path.write_text(json.dumps(config))
    code = bootstrap_path(root / "cache") if zipapp else unpacked_bootstrap(root / "cache")
    return [sys.executable, "-S", str(code), "--config", str(path), "--", sys.executable]


CHATTY = """\
import sys
w = sys.stdout.write
for i in range(200000):
    w("step %d loss=0.5\\n" % i)
"""


def chatty(runs: int, env: dict[str, str]) -> None:
    """CPU seconds of a script printing 200,000 lines, directly and through the bootstrap."""
    import resource

    root = Path(tempfile.mkdtemp())
    (root / "chatty.py").write_text(CHATTY)
    cases = {
        "script directly (baseline)": [sys.executable, "chatty.py"],
        "bootstrap, no metrics: becomes the script (exec)": bootstrap_argv(root, False),
        "bootstrap, no metrics, may_exec off (as before)": bootstrap_argv(root, False, False),
        "bootstrap, one metric: reads every line": bootstrap_argv(root, True),
    }
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            argv = argv if name.startswith("script") else [*argv, "chatty.py"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(argv, env=env, cwd=root, check=True, stdout=subprocess.PIPE)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            cpu[name].append(used)
    print(f"# 200,000 output lines, {runs} runs, load {os.getloadavg()[0]:.1f}")
    print("| what | CPU seconds (median) |")
    print("|---|---|")
    for name, values in cpu.items():
        print(f"| {name} | {statistics.median(values):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chatty", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if args.chatty:
        chatty(args.runs, env)
        return
    root = Path(tempfile.mkdtemp())
    (root / "script.py").write_text(SCRIPT)
    script = [sys.executable, "script.py"]
    cases = {
        "xargs -P4 python script.py (baseline)": lambda: xargs(script, args.trials, env, root),
        "mlx tune, 4 in parallel (first start to last end)": lambda: tune_span(args.trials, env),
        "xargs -P4 bootstrap, no metrics (exec)": lambda: xargs(
            [*bootstrap_argv(root, False), "script.py"], args.trials, env, root
        ),
        "xargs -P4 bootstrap, one metric (reads output)": lambda: xargs(
            [*bootstrap_argv(root, True), "script.py"], args.trials, env, root
        ),
        "xargs -P4 bootstrap from the zipapp, one metric (before)": lambda: xargs(
            [*bootstrap_argv(root, True, zipapp=True), "script.py"], args.trials, env, root
        ),
    }
    for case in cases.values():  # warm-up: bytecode caches, the zipapp
        case()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, case in cases.items():
            samples[name].append(case())
    base = statistics.median(samples["xargs -P4 python script.py (baseline)"])
    print(
        f"# local trials, {args.trials} runs of a trivial script, {args.runs} rounds, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}), "
        f"load {os.getloadavg()[0]:.1f}, PYTHONDONTWRITEBYTECODE unset"
    )
    print("| what | median | per run | vs baseline |")
    print("|---|---|---|---|")
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"| {name} | {median:.2f} s | {median / args.trials * 1000:.1f} ms | "
            f"{median / base:.2f}x |"
        )


if __name__ == "__main__":
    main()
