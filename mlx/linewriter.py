"""Followed log lines to a stream, buffered, with one flush per batch instead of per line.

A follower prints a burst of lines (a page of history, a poll's new lines), then waits
on the network or a timer. Flushing every line costs a system call each (the history of
a long job is millions of them); never flushing until the buffer fills would leave the
last lines of a burst unseen while the follower waits. So lines are written to the
stream's buffer, and a helper thread flushes ``DELAY`` seconds after the first line of a
batch: a line reaches the terminal or pipe within that delay, whatever the follower is
waiting for, and a batch costs one flush.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

DELAY = 0.05  # seconds a written line may wait in the buffer


class LineWriter:
    """``write`` lines; use as a context manager (leaving flushes what is left)."""

    def __init__(self, stream: TextIO, delay: float = DELAY) -> None:
        self.stream = stream
        self.delay = delay
        self._lock = threading.Lock()
        self._wrote = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._flusher, name="mlx-flush", daemon=True)

    def __enter__(self) -> LineWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing = True
        self._wrote.set()
        self._thread.join()
        self.flush()

    def write(self, text: str) -> None:
        """One line (without its newline)."""
        with self._lock:
            self.stream.write(text + "\n")
        self._wrote.set()

    def flush(self) -> None:
        with self._lock:
            self.stream.flush()

    def _flusher(self) -> None:
        while True:
            self._wrote.wait()
            if self._closing:
                return
            # Let the rest of the batch arrive, then flush it at once. A reader that went
            # away (a closed pipe) is the writing thread's to report, on its next write.
            time.sleep(self.delay)
            self._wrote.clear()
            try:
                self.flush()
            except (OSError, ValueError):
                return
            if self._closing:  # its wake-up may have been cleared above
                return
