"""Command-line values that need more than Typer's types: times and patterns."""

from __future__ import annotations

import re
import time
from typing import Optional

from mlx.errors import MlxError


def parse_since(text: Optional[str]) -> Optional[float]:
    """``10m`` (ago), ``2h``, or an ISO time -> epoch seconds."""
    if not text:
        return None
    from datetime import datetime, timezone

    from mlx.units import parse_duration

    try:
        return time.time() - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MlxError(
            f"--since {text!r} is neither a duration nor a time",
            hint="Use e.g. --since 10m, --since 2h or --since 2026-11-23T04:00:00Z.",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def compile_grep(pattern: Optional[str]) -> Optional[re.Pattern[str]]:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as e:
        raise MlxError(f"--grep {pattern!r} is not a valid regular expression: {e}") from None
