"""`mlx logs` on a local job reads its files in memory that does not grow with them
(issue 16, item 8): `--tail` from the end, everything else streamed; the lines are the
same as reading the whole files would give."""

from __future__ import annotations

import os
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Optional

import pytest

from mlx import logfiles
from mlx.model import JobRecord, JobState, LogLine
from mlx.store import Store

JOB = "logs-aaaaaa"


def home() -> Path:
    return Path(os.environ["MLX_HOME"])


def make_job(nodes: int = 1) -> Path:
    now = time.time()
    spec = {"name": "logs", "resources": {"nodes": nodes}}
    Store(home() / "jobs.db").insert(
        JobRecord(JOB, "local", "logs", JobState.SUCCEEDED, spec, now, now)
    )
    logs = home() / "jobs" / JOB / "logs"
    logs.mkdir(parents=True)
    return logs


def write_lines(path: Path, lines: list[tuple[float, str]], partial: str = "") -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(logfiles.format_line(when, text) for when, text in lines)
        f.write(partial)


def reference(
    logs: Path, tail: Optional[int], since: Optional[float], node: Optional[int]
) -> list[str]:
    """What `mlx logs` prints, computed the simple way: read everything, merge, filter."""
    every: list[LogLine] = []
    for path in logfiles.log_files(logs):
        raw = path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1].decode("utf-8", "replace").splitlines()
        parsed = (logfiles.parse_line(line, logfiles.node_of(path)) for line in complete)
        every.extend(line for line in parsed if line is not None)
    every.sort(key=lambda line: line.time)  # stable: ties keep file order
    kept = [
        line
        for line in every
        if (since is None or line.time >= since) and (node is None or line.node == node)
    ]
    kept = kept[-tail:] if tail else ([] if tail == 0 else kept)
    return [
        ("[mlx] " if line.node is None else f"[node-{line.node}] ") + line.text for line in kept
    ]


def test_tail_since_and_node_give_the_lines_a_full_read_gives(mlx: Any) -> None:
    logs = make_job(nodes=2)
    rng = random.Random(7)
    start = 1_700_000_000.0
    for name in ("node-0.log", "node-1.log", "mlx.log"):
        times = sorted(start + rng.uniform(0, 100) for _ in range(rng.randint(50, 400)))
        texts = [rng.choice(["", "x" * rng.randint(1, 300), "ünï", "a\tb"]) for _ in times]
        lines = [(t, f"{name} {i} {x}") for i, (t, x) in enumerate(zip(times, texts))]
        write_lines(logs / name, lines, "half a line")
    (logs / "node-0.log").open("ab").write(b"\n\xff\xfe not utf-8 and no stamp\n")
    logfiles.BLOCK = 97  # many blocks per file, lines across block edges
    try:
        for tail in (None, 0, 1, 5, 64, 10_000, 10**23):
            for since in (None, start + 50):
                for node in (None, 1):
                    args = [] if tail is None else ["--tail", str(tail)]
                    if since is not None:
                        args += ["--since", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))]
                    args += [] if node is None else ["--node", str(node)]
                    result = mlx("logs", JOB, *args)
                    assert result.exit_code == 0, result.stderr
                    expected = reference(logs, tail, since and float(int(since)), node)
                    assert result.stdout.splitlines() == expected, (tail, since, node)
    finally:
        logfiles.BLOCK = 1 << 16


def big_log(lines: int) -> None:
    logs = make_job()
    start = 1_700_000_000.0
    with open(logs / "node-0.log", "w", encoding="utf-8") as f:
        for first in range(0, lines, 10_000):
            f.writelines(
                logfiles.format_line(start + n / 1000, f"step={n} loss={1 / (n + 1):.6f}")
                for n in range(first, min(first + 10_000, lines))
            )


class Sink:
    """stdout that counts what is written and keeps only the last line."""

    def __init__(self) -> None:
        self.count = 0
        self.last = ""

    def write(self, text: str) -> int:
        self.count += text.count("\n")
        self.last = text or self.last
        return len(text)

    def flush(self) -> None:
        pass


def peak_python_memory(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, Sink]:
    """The peak of Python allocations while `mlx args` runs, its output counted, not kept."""
    from mlx.cli import main

    sink = Sink()
    monkeypatch.setattr(sys, "argv", ["mlx", *args])
    monkeypatch.setattr(sys, "stdout", sink)
    tracemalloc.start()
    try:
        main()
    except SystemExit as e:
        assert e.code in (0, None)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, sink


def test_memory_does_not_grow_with_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = 200_000  # 9 MB of log; reading it whole took >100 MB of Python objects
    big_log(lines)
    peak_python_memory(monkeypatch, "logs", JOB, "--tail", "1")  # imports happen here
    peak, sink = peak_python_memory(monkeypatch, "logs", JOB, "--tail", "5")
    assert sink.count == 5 and sink.last.startswith(f"step={lines - 1} ")
    assert peak < 2 * 2**20, peak
    peak, sink = peak_python_memory(monkeypatch, "logs", JOB)
    assert sink.count == lines
    assert peak < 4 * 2**20, peak
