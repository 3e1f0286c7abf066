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

    from mlx.units import DurationTooLong, parse_duration

    try:
        return time.time() - parse_duration(text)
    except DurationTooLong as e:
        raise MlxError(
            f"--since: {e}", hint="Use e.g. --since 30d, or a time: --since 2026-01-01."
        ) from None
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError, OSError):  # not a time; or one the platform cannot hold
        raise MlxError(
            f"--since {text!r} is neither a duration nor a time",
            hint="Use e.g. --since 10m, --since 2h or --since 2026-11-23T04:00:00Z.",
        ) from None


def compile_grep(pattern: Optional[str]) -> Optional[re.Pattern[str]]:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as e:  # huge counts, deep nesting
        shown = pattern if len(pattern) <= 60 else pattern[:40] + "..."
        raise MlxError(f"--grep {shown!r} is not a valid regular expression: {e}") from None


def parse_tags(items: list[str]) -> dict[str, str]:
    """``--tag KEY=VALUE`` (repeated: every one must match) -> {KEY: VALUE}."""
    from mlx.errors import UsageError

    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or '"' in key:
            raise UsageError(f"--tag {item!r}: expected KEY=VALUE", hint="e.g. --tag team=vision")
        tags[key] = value
    return tags


def check_provider_flag(provider: str) -> None:
    """``--provider`` names a registered provider; else a usage error (exit 2)."""
    from mlx import providers
    from mlx.errors import UsageError

    try:
        providers.get(provider)
    except MlxError as e:
        raise UsageError(f"--provider: {e.message}", hint=e.hint) from None
