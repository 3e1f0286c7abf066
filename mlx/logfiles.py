"""Timestamped log files, as the local supervisor writes them and ``mlx logs`` reads them.

One file per node (``node-<rank>.log``) plus ``mlx.log`` for mlx's own lines; each line is
``<ISO-8601 UTC time>\\t<text>``. One writer per file, so no line is ever interleaved.

Reading costs memory that does not grow with a file: history is streamed line by line,
``--tail N`` finds where the last N lines start by reading the file backwards in blocks,
and a follower reads what was appended in bounded chunks.
"""

from __future__ import annotations

import calendar
import heapq
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Callable, Optional

from mlx.model import LogLine

MLX_LOG = "mlx.log"
BLOCK = 1 << 16  # bytes read at a time when reading a file backwards
CHUNK = 8 << 20  # at most this many new bytes per follower read
_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def node_log_name(rank: int) -> str:
    return f"node-{rank}.log"


def format_line(time: float, text: str) -> str:
    stamp = datetime.fromtimestamp(time, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp}\t{text}\n"


def parse_line(line: str, node: Optional[int]) -> Optional[LogLine]:
    stamp, sep, text = line.rstrip("\n").partition("\t")
    if not sep:
        return None
    when = parse_stamp(stamp)
    return None if when is None else LogLine(when, text, node)


_last_second: tuple[str, int] = ("", 0)


def parse_stamp(stamp: str) -> Optional[float]:
    """Epoch seconds of a ``format_line`` stamp; None for anything else.

    Lines come in millions and share their second with their neighbours: the second is
    converted once (``strptime`` would cost more than the rest of reading the line).
    """
    global _last_second
    if len(stamp) != 27 or stamp[19] != "." or stamp[26] != "Z" or not stamp[20:26].isdigit():
        return None
    second = stamp[:19]
    if _last_second[0] != second:
        try:
            parsed = datetime.strptime(second, _STAMP[:17])
        except ValueError:
            return None
        _last_second = (second, calendar.timegm(parsed.timetuple()))
    return _last_second[1] + int(stamp[20:26]) / 1e6


def decode(raw: bytes, node: Optional[int]) -> Optional[LogLine]:
    """One raw line of a log file (without its newline), parsed."""
    stamp, sep, text = raw.partition(b"\t")
    when = parse_stamp(stamp.decode("ascii", "replace")) if sep else None
    return None if when is None else LogLine(when, text.decode("utf-8", "replace"), node)


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
    for its newline), without re-reading what was read before; at most ``CHUNK`` bytes a
    call (``behind`` says whether more is waiting)."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self._offset = offset
        self._partial = b""
        self.behind = False

    def read_lines(self) -> list[bytes]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read(CHUNK)
                self.behind = len(data) == CHUNK
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        return complete


class LogTailer(FileTail):
    """New lines of one node's log file, parsed."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        super().__init__(path, offset)
        self.node = node_of(path)

    def read_new(self) -> list[LogLine]:
        parsed = (decode(raw, self.node) for raw in self.read_lines())
        return [line for line in parsed if line is not None]


# -- reading history in bounded memory --------------------------------------------------

Keep = Callable[[LogLine], bool]


def complete_end(path: Path) -> int:
    """The offset just past the file's last newline: where its complete lines end (a line
    still being written is left to the follower)."""
    with open(path, "rb") as f:
        end = f.seek(0, 2)
        while end > 0:
            start = max(0, end - BLOCK)
            f.seek(start)
            block = f.read(end - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            end = start
    return 0


def lines_between(path: Path, start: int, end: int) -> Iterator[bytes]:
    """The complete lines of ``path`` from offset ``start`` to ``end`` (without newlines),
    one at a time."""
    with open(path, "rb") as f:
        f.seek(start)
        left = end - start
        while left > 0:
            raw = f.readline(CHUNK)  # a longer line comes in pieces: memory stays bounded
            if not raw:
                return
            left -= len(raw)
            yield raw[:-1] if raw.endswith(b"\n") else raw


def lines_backwards(path: Path, end: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` for each complete line before ``end`` (just past a newline), last
    line first; memory is a block and the line being read, whatever the file's size."""
    with open(path, "rb") as f:
        pos, carry = end, b""  # carry: a line whose start lies before `pos`
        while pos > 0:
            size = min(BLOCK, pos)
            pos -= size
            f.seek(pos)
            data = f.read(size) + carry
            if pos + size == end:
                data = data[:-1]  # the newline that ends the last line
            pieces = data.split(b"\n")
            carry = pieces[0]
            offset = pos + len(carry) + 1
            starts = []
            for piece in pieces[1:]:
                starts.append(offset)
                offset += len(piece) + 1
            for index in range(len(starts) - 1, -1, -1):
                yield starts[index], pieces[index + 1]
        if end > 0:
            yield 0, carry


def tail_start(path: Path, end: int, count: int, keep: Keep, since: Optional[float]) -> int:
    """The offset where the last ``count`` kept lines before ``end`` begin (0 when the file
    has fewer); lines before ``since`` end the search (a file is in time order)."""
    if count <= 0:
        return end
    node = node_of(path)
    found = 0
    for offset, raw in lines_backwards(path, end):
        line = decode(raw, node)
        if line is None:
            continue
        if since is not None and line.time < since:
            return offset + len(raw) + 1
        if keep(line):
            found += 1
            if found >= count:
                return offset
    return 0


def stream(path: Path, start: int, end: int, keep: Keep) -> Iterator[LogLine]:
    """The kept lines of one file between two offsets, parsed one at a time."""
    node = node_of(path)
    for raw in lines_between(path, start, end):
        line = decode(raw, node)
        if line is not None and keep(line):
            yield line


def merge_by_time(batches: Iterable[Iterable[LogLine]]) -> Iterator[LogLine]:
    """Lines of several time-ordered files as one time-ordered stream."""
    return heapq.merge(*batches, key=lambda line: line.time)
