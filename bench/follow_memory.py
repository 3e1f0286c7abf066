"""Memory of `logs -f` over a long history, on each cloud's emulator.

    python bench/follow_memory.py [--lines 320000] [--clouds sagemaker,vertex,azure] [--repo DIR]

Writes ``--lines`` lines of history for a one-node job into the emulated log store (the
setups of ``follow_lag.py``), then follows it with mlx's reader and
``mlx.cloud.follow.follow`` (the job has ended: the history, then the last read) and
reports the peak of Python's allocations while following (``tracemalloc``: the emulators
of CloudWatch and Cloud Logging run in this process, so RSS would count their stores;
what they allocate per request is counted, their stored entries are not), the seconds to
the first line and to the last. ``--repo`` runs another checkout's mlx (the baseline).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CHUNK = 10_000  # lines per append


def history(cloud: str, setup: Any, append: Any, lines: int) -> None:
    start = time.time() - lines / 1000 - 120
    for first in range(0, lines, CHUNK):
        texts = [f"step={n} loss={1 / (n + 1):.6f} lr=0.001" for n in range(first, first + CHUNK)]
        when = start + first / 1000
        if cloud == "sagemaker":
            events = [(int((when + i / 1000) * 1000), t) for i, t in enumerate(texts)]
            from mlx.backends.sagemaker.logs import LOG_GROUP

            stream = f"{setup.job}/algo-1-1700000000"
            setup.server.put_log_lines(LOG_GROUP, stream, events)
        elif cloud == "vertex":
            setup.server.append(
                dict(
                    text=t,
                    job_id="1234",
                    task_name="workerpool0-0",
                    timestamp=datetime.fromtimestamp(when + i / 1000, timezone.utc),
                )
                for i, t in enumerate(texts)
            )
        else:
            append(0, texts, when)


def measure(cloud: str, lines: int) -> tuple[float, float, float, int]:
    import follow_lag

    from mlx.cloud.follow import follow
    from mlx.cloud.pacing import Pacing, current

    # No waits: memory only (the quota's period exists only after this change).
    rationed = hasattr(Pacing, "log_quota_period")
    os.environ["MLX_PACING"] = "log_drain=0" + (",log_quota_period=0.01" if rationed else "")
    from mlx.model import LogQuery
    from mlx.providers import get

    setup = {"sagemaker": follow_lag.sagemaker, "vertex": follow_lag.vertex}.get(
        cloud, follow_lag.azure
    )(1)
    with setup as (reader, append, _calls):
        history(cloud, setup, append, lines)
        start = time.time() - lines / 1000 - 600
        if cloud == "sagemaker":  # the emulator sorts the query's events once, before
            setup.server.client("logs").filter_log_events(  # the follower's first read
                logGroupName="/aws/sagemaker/TrainingJobs",
                logStreamNamePrefix=reader.prefix,
                startTime=math.floor(start * 1000),
                limit=1,
            )
        pacing = current(get(cloud).pacing)
        tracemalloc.start()
        began, first, count = time.perf_counter(), 0.0, 0
        for _line in follow(reader, LogQuery(follow=True), lambda: True, pacing, start=start):
            count += 1
            if count == 1:
                first = time.perf_counter() - began
        total = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return peak, first, total, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=320_000)
    parser.add_argument("--clouds", default="sagemaker,vertex,azure")
    parser.add_argument("--repo", type=Path, default=REPO)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(args.repo.resolve()))
    print(f"mlx from {args.repo.resolve()}; {args.lines:,} lines; {time.ctime()}")
    print("| cloud | lines shown | peak MiB (tracemalloc) | first line s | all s |")
    print("|---|---:|---:|---:|---:|")
    for cloud in args.clouds.split(","):
        peak, first, total, count = measure(cloud, args.lines)
        print(f"| {cloud} | {count} | {peak:.0f} | {first:.2f} | {total:.1f} |", flush=True)


if __name__ == "__main__":
    main()
