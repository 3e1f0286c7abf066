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
