"""Canonical accelerator names and the aliases each cloud and user spells them with."""

from __future__ import annotations

import difflib
import re

# Canonical name -> memory per device (GB). The canonical names are what users see.
ACCELERATORS: dict[str, int] = {
    "K80": 12,
    "P4": 8,
    "P100": 16,
    "V100": 16,
    "T4": 16,
    "A10": 24,
    "A10G": 24,
    "L4": 24,
    "L40S": 48,
    "A100": 40,
    "A100-80GB": 80,
    "H100": 80,
    "H200": 141,
}

_ALIASES = {
    "A100-40GB": "A100",
    "A100-40G": "A100",
    "A100-80G": "A100-80GB",
    "A100-80": "A100-80GB",
    "H100-80GB": "H100",
    "H100-MEGA-80GB": "H100",
    "H100-MEGA": "H100",
    "H200-141GB": "H200",
    "V100-16GB": "V100",
    # Marketing and driver spellings (`nvidia-smi` prints e.g. "NVIDIA A100-SXM4-80GB").
    "A100-SXM4-40GB": "A100",
    "A100-PCIE-40GB": "A100",
    "A100-SXM4-80GB": "A100-80GB",
    "A100-PCIE-80GB": "A100-80GB",
    "H100-SXM": "H100",
    "H100-SXM5": "H100",
    "H100-PCIE": "H100",
    # Azure's NC H100 v5 sizes carry the 94 GB H100 NVL; mlx counts it as an H100.
    "H100-NVL": "H100",
    "H200-SXM": "H200",
    "L40S-48GB": "L40S",
}


def normalize_accelerator(name: str) -> str:
    """Return the canonical name for ``name`` (``nvidia-tesla-a100`` -> ``A100``).

    Raises:
        ValueError: the name is unknown; the message suggests the closest known one.
    """
    key = re.sub(r"[_\s]+", "-", name.strip().upper())
    for prefix in ("NVIDIA-", "TESLA-"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    key = _ALIASES.get(key, key)
    if key in ACCELERATORS:
        return key
    sized = _strip_memory_suffix(key)
    if sized:
        return sized
    close = difflib.get_close_matches(key, list(ACCELERATORS), n=1, cutoff=0.5)
    suggestion = f"; did you mean {close[0]}?" if close else ""
    raise ValueError(f"unknown accelerator {name!r}{suggestion} (known: {', '.join(ACCELERATORS)})")


def _strip_memory_suffix(key: str) -> str | None:
    """``H100-80G`` -> ``H100``, ``A100-80`` -> ``A100-80GB``: a size that names a known variant."""
    match = re.fullmatch(r"(.+?)-?(\d+)(?:GB|G)?", key)
    if not match or match.group(1) not in ACCELERATORS:
        return None
    base, size = match.group(1), int(match.group(2))
    if ACCELERATORS[base] == size:
        return base
    variant = f"{base}-{size}GB"
    return variant if variant in ACCELERATORS else None


def provider_accelerator_type(provider: str, name: str) -> str | None:
    """How ``provider`` spells accelerator ``name`` in a request, or None if it has no such field.

    Only providers whose request takes the accelerator as a field of its own declare a
    spelling (``Machines.accelerator_type``); elsewhere the machine type includes the GPU.

    Raises:
        ValueError: for an accelerator the provider does not offer.
    """
    from mlx.providers import get, load_object

    machines = get(provider).machines
    if machines is None or machines.accelerator_type is None:
        return None
    spell = load_object(machines.accelerator_type)
    return str(spell(name))
