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

# Canonical name -> Vertex AI `acceleratorType` enum (google.cloud.aiplatform.v1.AcceleratorType).
# SageMaker and Azure have no accelerator field: the GPU is fused into the instance type / VM size.
_VERTEX_TYPES: dict[str, str] = {
    "K80": "NVIDIA_TESLA_K80",
    "P4": "NVIDIA_TESLA_P4",
    "P100": "NVIDIA_TESLA_P100",
    "V100": "NVIDIA_TESLA_V100",
    "T4": "NVIDIA_TESLA_T4",
    "L4": "NVIDIA_L4",
    "A100": "NVIDIA_TESLA_A100",
    "A100-80GB": "NVIDIA_A100_80GB",
    "H100": "NVIDIA_H100_80GB",
    "H200": "NVIDIA_H200_141GB",
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


def vertex_accelerator_type(name: str) -> str:
    """The Vertex AI ``acceleratorType`` enum for ``name`` (``A100`` -> ``NVIDIA_TESLA_A100``).

    Args:
        name: any spelling :func:`normalize_accelerator` accepts.

    Raises:
        ValueError: the name is unknown, or Vertex AI offers no such accelerator (A10G, L40S).
    """
    canonical = normalize_accelerator(name)
    try:
        return _VERTEX_TYPES[canonical]
    except KeyError:
        offered = ", ".join(_VERTEX_TYPES)
        raise ValueError(
            f"vertex offers no {canonical} accelerator (it offers {offered})"
        ) from None


def provider_accelerator_type(provider: str, name: str) -> str | None:
    """How ``provider`` spells accelerator ``name`` in a request, or None if it has no such field.

    Only Vertex AI takes the accelerator as a separate field (``acceleratorType``);
    SageMaker instance types and Azure VM sizes include the GPU, so they return None.

    Raises:
        ValueError: on Vertex, for an accelerator it does not offer.
    """
    return vertex_accelerator_type(name) if provider == "vertex" else None
