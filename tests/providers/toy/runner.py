"""Runs one toy job (or a toy tuning job's trials) detached, the way a cloud would.

    python -m tests.providers.toy.runner <job dir>

``<job dir>/job.json`` says what to run. Each node is a process with ``MLX_NODE_RANK`` and
``MLX_MODEL_DIR`` set and its output in ``logs/node-<rank>.log``; ``state`` holds
running, succeeded, failed or cancelled. SIGTERM (the toy's cancel) stops every node.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

_children: list[subprocess.Popen[bytes]] = []
_cancelled = False


def _stop(signum: int, frame: Any) -> None:
    global _cancelled
    _cancelled = True
    for child in _children:
        child.terminate()


def run_job(job_dir: Path, argv: list[str], nodes: int, cwd: str) -> str:
    (job_dir / "logs").mkdir(parents=True, exist_ok=True)
    (job_dir / "model").mkdir(exist_ok=True)
    (job_dir / "state").write_text("running")
    procs = []
    for rank in range(nodes):
        env = {**os.environ, "MLX_NODE_RANK": str(rank), "MLX_MODEL_DIR": str(job_dir / "model")}
        log = open(job_dir / "logs" / f"node-{rank}.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT))
    _children[:] = procs
    codes = [p.wait() for p in procs]
    state = "cancelled" if _cancelled else ("succeeded" if not any(codes) else "failed")
    (job_dir / "state").write_text(state)
    return state


def main() -> int:
    job_dir = Path(sys.argv[1])
    job = json.loads((job_dir / "job.json").read_text())
    signal.signal(signal.SIGTERM, _stop)
    if "trials" not in job:
        run_job(job_dir, job["argv"], job["nodes"], job["cwd"])
        return 0
    sample = random.Random(job["seed"])
    (job_dir / "state").write_text("running")
    for number in range(job["trials"]):
        if _cancelled:
            break
        x = sample.uniform(job["min"], job["max"])
        trial_dir = job_dir / "trials" / str(number)
        trial_dir.mkdir(parents=True)
        (trial_dir / "params.json").write_text(json.dumps({job["parameter"]: x}))
        run_job(trial_dir, [*job["argv"], f"--{job['parameter']}", repr(x)], 1, job["cwd"])
    (job_dir / "state").write_text("cancelled" if _cancelled else "succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
