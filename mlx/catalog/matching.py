"""The predicates the resolver chooses with: what fits a request, and what costs less.

Shared by :mod:`mlx.catalog.resolver` (choosing) and :mod:`mlx.catalog.nearest`
(explaining why nothing fits).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from mlx.catalog.tables import InstanceType
from mlx.units import AcceleratorRequest

# With neither cpus nor memory given: the class of ml.m5.xlarge / n1-standard-4 /
# Standard_D4s_v5. Every provider's smallest GPU machines have this much too, so the default
# keeps choices comparable across providers and keeps Vertex from pairing a GPU with a
# 2-vCPU N1 machine that cannot feed it. (15, not 16: n1-standard-4 has 15 GB.)
DEFAULT_CPUS = 4.0
DEFAULT_MEMORY_GB = 15.0

# Bigger-memory variants of the same chip that may stand in for the one asked for.
UPGRADES: dict[str, tuple[str, ...]] = {"A100": ("A100-80GB",)}

# Tolerance for sizes parsed from text ("16GB" vs a 16 GB row).
EPSILON = 1e-6


class Request(NamedTuple):
    """What ``resources`` asks of one node: accelerator (canonical), cpus, memory in GiB."""

    accelerator: Optional[AcceleratorRequest]
    cpus: Optional[float]
    memory_gb: Optional[float]


def with_defaults(request: Request) -> Request:
    """Apply DEFAULT_CPUS / DEFAULT_MEMORY_GB when neither cpus nor memory is given."""
    if request.cpus is None and request.memory_gb is None:
        return request._replace(cpus=DEFAULT_CPUS, memory_gb=DEFAULT_MEMORY_GB)
    return request


def exact_count_for(provider: str) -> bool:
    """Whether ``provider``'s request carries the accelerator count separately from the
    machine type (so a machine is chosen for exactly the count asked)."""
    from mlx.providers import get

    machines = get(provider).machines
    return machines is not None and machines.accelerator_type is not None


def acceptable(accelerator: str) -> tuple[str, ...]:
    """The accelerator types that satisfy a request for ``accelerator``."""
    return (accelerator, *UPGRADES.get(accelerator, ()))


def fits_size(row: InstanceType, request: Request) -> bool:
    """Whether ``row`` has at least the cpus and memory asked for."""
    enough_cpus = row.vcpus + EPSILON >= (request.cpus or 0)
    return enough_cpus and row.memory_gb + EPSILON >= (request.memory_gb or 0)


def fits_accelerator(row: InstanceType, request: Request, *, exact_count: bool) -> bool:
    """Whether ``row`` has the accelerator type and count asked for (or none, for CPU)."""
    wanted = request.accelerator
    if wanted is None:
        # CPU-only requests never get a GPU machine, however cheap.
        return row.accelerator is None
    if row.accelerator not in acceptable(wanted.type):
        return False
    if exact_count:
        return row.accelerator_count == wanted.count
    return row.accelerator_count >= wanted.count


def fits(row: InstanceType, request: Request, *, exact_count: bool) -> bool:
    """Whether ``row`` satisfies the whole request."""
    return fits_accelerator(row, request, exact_count=exact_count) and fits_size(row, request)


def cost_key(row: InstanceType) -> tuple[float, int, float, float, str]:
    """Sort key: cheapest first."""
    # Ties go to fewer GPUs, then the smaller machine: the same price buys less waste.
    return (row.price_per_hour, row.accelerator_count, row.vcpus, row.memory_gb, row.instance_type)
