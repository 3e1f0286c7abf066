"""The one progress display of transfers, uploads and downloads alike, on every provider:
what moves, a bar, bytes done of the total, the rate and the time left, on stderr.

It is fed by the SDKs' own progress callbacks where they have them (boto3's ``Callback``,
azure-storage-blob's ``progress_hook``) and by the bytes mlx's object stores read and
write otherwise (``ObjectStore.download``'s chunks, a counting reader for Cloud Storage
uploads). It shows only where stderr is a terminal: never in logs or pipes, and never on
stdout, which ``--json`` keeps for the JSON document.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Callable, Optional

Advance = Callable[[int], None]


def _columns(total: Optional[int]) -> tuple[Any, ...]:
    from rich.progress import BarColumn, DownloadColumn, SpinnerColumn, TimeElapsedColumn

    if total is None:  # an archive streamed until the members wanted are read
        return (SpinnerColumn(), "{task.description}", DownloadColumn(), _rate_column())
    return (
        "{task.description}",
        BarColumn(bar_width=24),
        DownloadColumn(),
        _rate_column(),
        _left_column(),
        TimeElapsedColumn(),
    )


def _rate(task: Any) -> Optional[float]:
    """Bytes per second: Rich's windowed speed, or the average so far (Rich needs two
    updates for its own: a file sent in one chunk would show none)."""
    speed = task.finished_speed or task.speed
    if speed is None and task.completed and task.elapsed:
        speed = task.completed / task.elapsed
    return float(speed) if speed else None


def _rate_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            from rich.filesize import decimal

            speed = _rate(task)
            shown = f"{decimal(int(speed))}/s" if speed else "?"
            return Text(shown, style="progress.data.speed")

    return Rate()


def _left_column() -> Any:
    """Time left at the current rate (``-:--:--`` until there is one)."""
    from datetime import timedelta

    from rich.progress import ProgressColumn
    from rich.text import Text

    class Left(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = _rate(task)
            if task.total is None or not speed:
                return Text("-:--:--", style="progress.remaining")
            left = max(0.0, task.total - task.completed) / speed
            return Text(str(timedelta(seconds=int(left))), style="progress.remaining")

    return Left()


@contextmanager
def transfer(description: str, total: Optional[int], *, enabled: bool = True) -> Iterator[Advance]:
    """A display of ``total`` bytes (None: unknown) while the block runs; yields the
    function each transfer calls with the bytes it just moved (from any thread)."""
    from mlx import console

    shown = enabled and total != 0 and console.err.is_terminal
    lock = threading.Lock()
    with console.progress(*_columns(total), enabled=shown) as display:
        task = display.add_task(description, total=total)

        def advance(n: int) -> None:
            with lock:
                display.update(task, advance=n)

        yield advance


def describe(verb: str, files: int) -> str:
    return f"{verb} {files} file{'s' if files != 1 else ''}"


class CountingReader:
    """A binary file that reports the bytes read from it: the progress of an upload whose
    SDK reads the file itself and offers no callback (google-cloud-storage). A rewind (a
    retried upload) reports nothing until the bytes already counted are read again."""

    def __init__(self, file: IO[bytes], progress: Advance) -> None:
        self.file, self.progress = file, progress
        self.counted = 0

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        end = self.file.tell()
        if end > self.counted:
            self.progress(end - self.counted)
            self.counted = end
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()
