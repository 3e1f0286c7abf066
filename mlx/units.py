"""Parsers for the human units a spec uses: durations, sizes and accelerators."""

from __future__ import annotations

import re
from typing import NamedTuple, Optional, Union

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_GB_PER_UNIT = {"B": 1 / 2**30, "K": 1 / 2**20, "M": 1 / 2**10, "G": 1.0, "T": 2**10}


def parse_duration(value: Union[int, float, str]) -> int:
    """Seconds in ``value``: a number of seconds, or ``90m``, ``4h``, ``1h30m``, ``2d``.

    Raises:
        ValueError: the text is not a positive duration.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90m, 4h or 1h30m")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif text and _DURATION_PART.sub("", text) == "":
            seconds = sum(float(n) * _SECONDS[u.lower()] for n, u in _DURATION_PART.findall(text))
        else:
            raise ValueError(f"{value!r} is not a duration; use e.g. 90m, 4h, 1h30m or 3600")
    if seconds <= 0:
        raise ValueError(f"{value!r} must be a positive duration")
    return round(seconds)


def parse_size_gb(value: Union[int, float, str]) -> float:
    """GiB in ``value``: ``32GB``, ``512MB``, ``1TB``, ``16Gi`` or a bare number of GB.

    Cloud consoles say "GB" for GiB, so GB and GiB both mean 2**30 bytes here.
    """
    if isinstance(value, bool):
        raise ValueError("expected a size such as 32GB")
    if isinstance(value, (int, float)):
        size = float(value)
    else:
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size; use e.g. 32GB, 512MB or 1TB")
        unit = (match.group(2) or "G")[0].upper()
        size = float(match.group(1)) * _GB_PER_UNIT[unit]
    if size <= 0:
        raise ValueError(f"{value!r} must be a positive size")
    return size


class AcceleratorRequest(NamedTuple):
    """What ``resources.accelerator`` asks for: a canonical type and a count per node."""

    type: str
    count: int  # type: ignore[assignment]  # a field, where tuple has a method of that name

    def __str__(self) -> str:
        return f"{self.type}:{self.count}"


def parse_accelerator(value: Union[str, None]) -> Optional[AcceleratorRequest]:
    """Parse ``A100:1``, ``t4``, ``H100:8`` or ``none``; None means CPU only."""
    from mlx.catalog.accelerators import normalize_accelerator

    if value is None or str(value).strip().lower() in ("", "none", "cpu"):
        return None
    name, _, count_text = str(value).partition(":")
    count_text = count_text.strip() or "1"
    if not count_text.isdigit() or int(count_text) < 1:
        raise ValueError(f"accelerator count in {value!r} must be a whole number >= 1")
    return AcceleratorRequest(normalize_accelerator(name), int(count_text))
