"""How Vertex AI names accelerators: its request takes ``acceleratorType`` and
``acceleratorCount`` beside the machine type (``Machines.accelerator_type``)."""

from __future__ import annotations

from mlx.catalog.accelerators import normalize_accelerator

# Canonical name -> Vertex AI `acceleratorType` enum (google.cloud.aiplatform.v1.AcceleratorType).
# SageMaker and Azure have no accelerator field: the GPU is fused into the instance type / VM size.
VERTEX_TYPES: dict[str, str] = {
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


def accelerator_type(name: str) -> str:
    """The Vertex AI ``acceleratorType`` enum for ``name`` (``A100`` -> ``NVIDIA_TESLA_A100``).

    Args:
        name: any spelling :func:`normalize_accelerator` accepts.

    Raises:
        ValueError: the name is unknown, or Vertex AI offers no such accelerator (A10G, L40S).
    """
    canonical = normalize_accelerator(name)
    try:
        return VERTEX_TYPES[canonical]
    except KeyError:
        offered = ", ".join(VERTEX_TYPES)
        raise ValueError(
            f"vertex offers no {canonical} accelerator (it offers {offered})"
        ) from None
