"""What the trial table fits on one screen: short parameter names, compact values, and
which trials get a row when there are more trials than the terminal has lines."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Optional

from mlx.model import JobRecord


def abbreviations(names: Iterable[str]) -> dict[str, str]:
    """A short, unique name per parameter: the initials of a compound name
    (``learning-rate`` -> ``lr``), a long single word's first three letters
    (``optimizer`` -> ``opt``), short names as they are. Clashes take more letters."""
    names = list(names)
    short: dict[str, str] = {}
    for name in names:
        taken = set(short.values()) | (set(names) - {name})  # another's own name too
        short[name] = next((c for c in _candidates(name) if c not in taken), name)
    return short


def _candidates(name: str) -> Iterable[str]:
    """Ever longer short forms of ``name``, ending with ``name`` itself."""
    parts = [p for p in re.split(r"[-_.\s]+", name) if p]
    if len(parts) > 1:
        head = "".join(p[0] for p in parts[:-1])
        for n in range(1, len(parts[-1]) + 1):
            yield head + parts[-1][:n]
    elif len(name) > 4:
        for n in range(3, len(name)):
            yield name[:n]
    yield name


def value_text(value: Any) -> str:
    """A parameter value in few characters: floats to 3 significant digits."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def params_text(params: dict[str, Any], short: dict[str, str]) -> str:
    return " ".join(f"{short.get(k, k)}={value_text(v)}" for k, v in params.items())


def legend(short: dict[str, str]) -> Optional[str]:
    """``lr learning-rate, bs batch-size``: the names that were shortened; None if none."""
    shown = [f"{s} {name}" for name, s in short.items() if s != name]
    return ", ".join(shown) if shown else None


def pick(
    trials: list[JobRecord], best: Optional[int], room: Optional[int]
) -> tuple[list[JobRecord], int]:
    """The trials that get a row, in trial order, and how many are left out.

    With ``room`` rows for more trials than that: every running trial first (they are what
    is being watched), then the best, then the latest; the rest are counted in a
    "… n more" line. ``room`` None: all of them.
    """
    if room is None or len(trials) <= room:
        return trials, 0
    room = max(room, 1)
    chosen: dict[str, JobRecord] = {}

    def take(records: Iterable[JobRecord]) -> None:
        for record in records:
            if len(chosen) >= room:
                return
            chosen.setdefault(record.id, record)

    take(r for r in trials if not r.state.terminal)
    take(r for r in trials if best is not None and r.info.get("trial") == best)
    take(reversed(trials))
    return [r for r in trials if r.id in chosen], len(trials) - len(chosen)
