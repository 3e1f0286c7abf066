from __future__ import annotations

import pytest

from mlx.units import AcceleratorRequest, parse_accelerator, parse_duration, parse_size_gb


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90m", 5400),
        ("4h", 14400),
        ("1h30m", 5400),
        ("2d", 172800),
        ("45s", 45),
        (3600, 3600),
        ("3600", 3600),
        ("1.5h", 5400),
    ],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["soon", "4x", "", "-5m", "0", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "gb"), [("32GB", 32), ("512MB", 0.5), ("1TB", 1024), ("16Gi", 16), (8, 8)]
)
def test_sizes(text: object, gb: float) -> None:
    assert parse_size_gb(text) == gb  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("A100:1", ("A100", 1)),
        ("t4", ("T4", 1)),
        ("H100:8", ("H100", 8)),
        ("nvidia-tesla-a100:2", ("A100", 2)),
        ("A100-80GB:4", ("A100-80GB", 4)),
        ("NVIDIA_TESLA_T4", ("T4", 1)),
        ("none", None),
        (None, None),
    ],
)
def test_accelerators(text: str, wanted: object) -> None:
    expected = AcceleratorRequest(*wanted) if wanted else None  # type: ignore[misc]
    assert parse_accelerator(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("A1000:1", "did you mean A100"), ("A100:0", "whole number >= 1"), ("A100:x", "whole number")],
)
def test_bad_accelerators(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_accelerator(text)
