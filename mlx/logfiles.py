"""Timestamped log files, as the local supervisor writes them and ``mlx logs`` reads them.

One file per node (``node-<rank>.log``) plus ``mlx.log`` for mlx's own lines; each line is
``<ISO-8601 UTC time>\\t<text>``. One writer per file, so no line is ever interleaved.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Optional

from mlx.model import LogLine

MLX_LOG = "mlx.log"


def node_log_name(rank: int) -> str:
    return f"node-{rank}.log"


def format_line(time: float, text: str) -> str:
    stamp = datetime.fromtimestamp(time, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp}\t{text}\n"


def parse_line(line: str, node: Optional[int]) -> Optional[LogLine]:
    stamp, sep, text = line.rstrip("\n").partition("\t")
    if not sep:
        return None
    try:
        when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return LogLine(when.timestamp(), text, node)


def node_of(path: Path) -> Optional[int]:
    """``node-3.log`` -> 3; ``mlx.log`` -> None."""
    stem = path.name[: -len(".log")]
    return int(stem[5:]) if stem.startswith("node-") and stem[5:].isdigit() else None


def log_files(log_dir: Path) -> list[Path]:
    if not log_dir.is_dir():
        return []
    return sorted(log_dir.glob("*.log"), key=lambda p: (node_of(p) is not None, node_of(p) or 0))


class LogWriter:
    """Appends timestamped lines to one file, flushing each so followers see it at once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115

    def write(self, text: str, time: float) -> None:
        self._file.write(format_line(time, text))
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class FileTail:
    """The complete lines appended to a file since the last call (a partial last line waits
    for its newline), without re-reading what was read before."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read_lines(self) -> list[bytes]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        return complete


class LogTailer(FileTail):
    """New lines of one node's log file, parsed."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.node = node_of(path)

    def read_new(self) -> list[LogLine]:
        parsed = (
            parse_line(raw.decode("utf-8", "replace"), self.node) for raw in self.read_lines()
        )
        return [line for line in parsed if line is not None]


def merge_by_time(batches: Iterable[list[LogLine]]) -> Iterator[LogLine]:
    """Lines of several time-ordered files as one time-ordered stream."""
    return heapq.merge(*batches, key=lambda line: line.time)
