"""Parsers for the human units a spec uses: durations, sizes and accelerators."""

from __future__ import annotations

import math
import re
from typing import NamedTuple, Optional, Union

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_GB_PER_UNIT = {"B": 1 / 2**30, "K": 1 / 2**20, "M": 1 / 2**10, "G": 1.0, "T": 2**10}


# Far beyond what any provider runs a job for, or how long ago a job could have started,
# and small enough that seconds stay exact in a float and an int64 (a request field).
MAX_DURATION_SECONDS = 10 * 365 * 86400
MAX_DURATION_TEXT = "10 years"
# Far beyond any machine's memory or disk (the largest instances hold a few TiB).
MAX_SIZE_GB = float(2**20)
_MAX_DIGITS = 30  # digits in one number: any more is not a duration or size anyone means


def parse_duration(value: Union[int, float, str]) -> int:
    """Seconds in ``value``: a number of seconds, or ``90m``, ``4h``, ``1h30m``, ``2d``, ``2w``.

    Raises:
        ValueError: the text is not a positive duration, or one longer than 10 years.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90m, 4h or 1h30m")
    if isinstance(value, (int, float)):
        seconds = _finite(value, f"{_short(value)} is not a duration")
    else:
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = _number(text)
        elif text and _DURATION_PART.sub("", text) == "":
            parts = _DURATION_PART.findall(text)
            seconds = sum(_number(n) * _SECONDS[u.lower()] for n, u in parts)
        else:
            raise ValueError(f"{value!r} is not a duration; use e.g. 90m, 4h, 1h30m or 3600")
    if round(seconds) < 1:
        raise ValueError(f"{_short(value)} must be a positive duration (at least 1s)")
    if seconds > MAX_DURATION_SECONDS:
        raise DurationTooLong(f"{_short(value)} is longer than {MAX_DURATION_TEXT}")
    return round(seconds)


class DurationTooLong(ValueError):
    """A duration past ``MAX_DURATION_SECONDS``: no job runs, or ran, that long."""


def _number(text: str) -> float:
    """``text`` (digits) as a float, refusing what no one means as a duration or size."""
    if len(text.replace(".", "").lstrip("0")) > _MAX_DIGITS:
        raise DurationTooLong(f"{_short(text)} has more than {_MAX_DIGITS} digits")
    return float(text)


def _finite(value: Union[int, float], message: str) -> float:
    try:
        number = float(value)  # an int too large for a float raises OverflowError
    except OverflowError:
        raise ValueError(f"{message}: it is far too large") from None
    if not math.isfinite(number):
        raise ValueError(message)
    return number


def _short(value: object) -> str:
    """``value`` for an error message, cut to a readable length."""
    if isinstance(value, int) and value.bit_length() > 128:  # str() fails past 4,300 digits
        return f"a number of about {int(value.bit_length() * math.log10(2)):,} digits"
    text = str(value)
    return repr(text) if len(text) <= 40 else repr(text[:20] + "..." + text[-8:])


def parse_size_gb(value: Union[int, float, str]) -> float:
    """GiB in ``value``: ``32GB``, ``512MB``, ``1TB``, ``16Gi`` or a bare number of GB.

    Cloud consoles say "GB" for GiB, so GB and GiB both mean 2**30 bytes here.
    """
    if isinstance(value, bool):
        raise ValueError("expected a size such as 32GB")
    if isinstance(value, (int, float)):
        size = _finite(value, f"{_short(value)} is not a size")
    else:
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size; use e.g. 32GB, 512MB or 1TB")
        unit = (match.group(2) or "G")[0].upper()
        size = _number(match.group(1)) * _GB_PER_UNIT[unit]
    if size <= 0:
        raise ValueError(f"{_short(value)} must be a positive size")
    if size > MAX_SIZE_GB:
        raise ValueError(f"{_short(value)} is larger than any machine (1 PiB)")
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
