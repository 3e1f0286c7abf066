"""The one Rich console for results (stdout) and one for logs, progress and errors (stderr).

With ``--json`` stdout carries only the JSON document, so everything human goes to ``err``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Write a stable JSON document to stdout (no Rich wrapping or colour)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/] {escape(message)}")


def info(message: str) -> None:
    err.print(escape(message))


class _NoProgress:
    """What a disabled progress display does: nothing (not even a blank line, which some
    Rich releases print when a disabled transient display stops)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, **fields: Any) -> int:
        return 0

    def update(self, task: int, **fields: Any) -> None:
        return None


def progress(*columns: Any, enabled: bool) -> Any:
    """A transient Rich progress display on stderr, or nothing when ``enabled`` is false
    (``--json``, pipes, nothing to do)."""
    if not enabled:
        return _NoProgress()
    from rich.progress import Progress

    return Progress(*columns, console=err, transient=True)
