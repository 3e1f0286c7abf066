"""`mlx logs` on a large local log: peak memory and time, beside `tail` and `cat`.

    python bench/logs_memory.py [--lines 3000000] [--repo DIR]

Writes a local job (a store row and ``logs/node-0.log`` of ``--lines`` lines, each like
the supervisor writes them) into a fresh ``$MLX_HOME``, then runs, each as a fresh process
with stdout to /dev/null: ``tail -n 5`` and ``cat`` on the file (the baselines),
``mlx status JOB`` (what starting mlx and reading the store costs),
``mlx logs JOB --tail 5`` and ``mlx logs JOB``. Peak RSS is the child's own
(GNU time's ``%M``), time is wall-clock. ``--repo`` runs the mlx found in another
checkout (e.g. the commit before a change) against the same file.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
JOB_ID = "bench-logs-aaaaaa"
TIME = "/usr/bin/time"  # GNU time (Debian: apt-get install time)


def write_job(home: Path, lines: int) -> Path:
    """A finished local job whose node-0 log holds ``lines`` lines."""
    sys.path.insert(0, str(REPO))
    from mlx.model import JobRecord, JobState
    from mlx.store import Store

    log = home / "jobs" / JOB_ID / "logs" / "node-0.log"
    log.parent.mkdir(parents=True)
    start = time.time() - lines / 1000
    with open(log, "w", encoding="utf-8") as f:
        for first in range(0, lines, 10_000):
            chunk = []
            for n in range(first, min(first + 10_000, lines)):
                when = datetime.fromtimestamp(start + n / 1000, timezone.utc)
                stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                chunk.append(
                    f"{stamp}\tstep={n} loss={1 / (n + 1):.6f} lr=0.001 epoch={n // 1000}\n"
                )
            f.write("".join(chunk))
    now = time.time()
    spec = {"name": "bench-logs", "resources": {"nodes": 1}}
    record = JobRecord(JOB_ID, "local", "bench-logs", JobState.SUCCEEDED, spec, now, now)
    Store(home / "jobs.db").insert(record)
    return log


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one run of ``argv``.

    The peak comes from GNU time (``%M``, its child's ``ru_maxrss``): a child forked from
    this Python process would count this process's memory too (Linux keeps the high-water
    mark across ``execve``), while ``time`` itself takes a megabyte or two.
    """
    report = Path(tempfile.mktemp(prefix="mlx-bench-rss-"))
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        done = subprocess.run(
            [TIME, "-f", "%M", "-o", str(report), *argv],
            env=env,
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.PIPE,
            check=False,
        )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
    kib = int(report.read_text().split()[-1])
    report.unlink()
    return kib / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=3_000_000)
    parser.add_argument("--repo", type=Path, default=REPO, help="the mlx checkout to run")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mlx-bench-logs-"))
    try:
        log = write_job(home, args.lines)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(MLX_HOME=str(home), MLX_CONFIG=str(home / "no-config.yaml"))
        env["PYTHONPATH"] = str(args.repo.resolve())
        mlx = [sys.executable, "-m", "mlx", "logs", JOB_ID]
        commands = {
            "tail -n 5 (baseline)": ["tail", "-n", "5", str(log)],
            "cat (baseline)": ["cat", str(log)],
            "mlx status (mlx's fixed cost)": [sys.executable, "-m", "mlx", "status", JOB_ID],
            "mlx logs --tail 5": [*mlx, "--tail", "5"],
            "mlx logs": mlx,
        }
        size = log.stat().st_size / 2**20
        print(f"{args.lines:,} lines, {size:.0f} MiB; mlx from {args.repo.resolve()}")
        print(
            f"{platform.node()}: {os.cpu_count()} CPU, {platform.platform()}, "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}\n"
        )
        print("| command | peak RSS MiB | seconds |\n|---|---:|---:|")
        for name, argv in commands.items():
            rss, seconds = measure(argv, env, args.repo)
            print(f"| {name} | {rss:.0f} | {seconds:.2f} |")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
