"""Why nothing fits: the error for an impossible request, naming the nearest valid choices."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlx.catalog.accelerators import ACCELERATORS
from mlx.catalog.matching import (
    EPSILON,
    Request,
    acceptable,
    cost_key,
    exact_count_for,
    fits_accelerator,
    fits_size,
)
from mlx.catalog.tables import Catalog, InstanceType
from mlx.errors import SpecError


class UnsatisfiableResources(SpecError):
    """No machine on the provider satisfies ``resources``; the message lists the nearest."""


def offered_accelerators(catalog: Catalog) -> tuple[str, ...]:
    """The canonical accelerator names in ``catalog``, in catalog order."""
    return tuple(dict.fromkeys(row.accelerator for row in catalog.rows if row.accelerator))


def unsatisfiable(catalog: Catalog, request: Request) -> UnsatisfiableResources:
    """The error for a request nothing in ``catalog`` satisfies (with defaults applied)."""
    wanted = request.accelerator
    if wanted is None:
        return _too_big(catalog, [r for r in catalog.rows if r.accelerator is None], request)
    offered = [t for t in acceptable(wanted.type) if any(r.accelerator == t for r in catalog.rows)]
    if not offered:
        return _type_not_offered(catalog, request)
    pool = [r for r in catalog.rows if r.accelerator in offered]
    exact = exact_count_for(catalog.provider)
    if any(fits_accelerator(r, request, exact_count=exact) for r in pool):
        # The accelerator exists in that number; the cpus or memory do not go with it.
        fitting = [r for r in pool if fits_accelerator(r, request, exact_count=exact)]
        # On Vertex the count is exact, but another count may come with enough cpus/memory.
        others = [r for r in pool if r not in fitting and fits_size(r, request)]
        return _too_big(catalog, fitting, request, others=others)
    return _count_not_offered(catalog, pool, request)


def _type_not_offered(catalog: Catalog, request: Request) -> UnsatisfiableResources:
    wanted = request.accelerator
    assert wanted is not None
    offered = offered_accelerators(catalog)
    size = ACCELERATORS[wanted.type]
    # Nearest by memory per device: the property that decides whether a model fits.
    by_memory = sorted(offered, key=lambda name: (abs(math.log(ACCELERATORS[name] / size)), name))
    choices = []
    for name in by_memory[:2]:
        rows = [r for r in catalog.rows if r.accelerator == name]
        choices.append(_describe(_nearest_count(rows, request, name)))
    return UnsatisfiableResources(
        f"resources.accelerator: {wanted.type} is not offered on {catalog.provider}; "
        f"nearest: {', '.join(choices)}",
        hint=f"{catalog.provider} offers {', '.join(offered)}; ask for one of them, or set "
        f"resources.instance_type.{catalog.provider} to a type mlx's catalog does not know.",
    )


def _nearest_count(rows: list[InstanceType], request: Request, name: str) -> InstanceType:
    """The cheapest row of accelerator ``name`` closest to the requested count and size."""
    wanted = request.accelerator
    assert wanted is not None
    counts = sorted({r.accelerator_count for r in rows})
    count = min(counts, key=lambda n: (abs(math.log(n / wanted.count)), -n))
    same = [r for r in rows if r.accelerator_count == count]
    sized = [r for r in same if fits_size(r, request)]
    return min(sized or same, key=cost_key)


def _count_not_offered(
    catalog: Catalog, pool: list[InstanceType], request: Request
) -> UnsatisfiableResources:
    wanted = request.accelerator
    assert wanted is not None
    counts = sorted({r.accelerator_count for r in pool})
    lower = [n for n in counts if n < wanted.count]
    higher = [n for n in counts if n > wanted.count]
    nearest = ([lower[-1]] if lower else []) + ([higher[0]] if higher else [])
    choices = []
    for count in nearest:
        same = [r for r in pool if r.accelerator_count == count]
        sized = [r for r in same if fits_size(r, request)]
        choices.append(_describe(min(sized or same, key=cost_key)))
    types = "/".join(dict.fromkeys(r.accelerator for r in pool if r.accelerator))
    return UnsatisfiableResources(
        f"resources.accelerator: {wanted} is not offered on {catalog.provider}; "
        f"nearest: {', '.join(choices)}",
        hint=f"{catalog.provider} offers {types} in counts of "
        f"{', '.join(str(n) for n in counts)} per node; ask for one of them, or set "
        f"resources.instance_type.{catalog.provider} to a type mlx's catalog does not know.",
    )


def _too_big(
    catalog: Catalog,
    rows: list[InstanceType],
    request: Request,
    *,
    others: Sequence[InstanceType] = (),
) -> UnsatisfiableResources:
    cpus_ok = any(r.vcpus + EPSILON >= (request.cpus or 0) for r in rows)
    memory_ok = any(r.memory_gb + EPSILON >= (request.memory_gb or 0) for r in rows)
    field = "resources.cpus" if memory_ok else "resources.memory" if cpus_ok else "resources"
    # Largest first: the machines that come closest to what was asked for.
    largest = sorted(rows, key=lambda r: (-_coverage(r, request), r.price_per_hour))[:2]
    what = _describe_request(request)
    message = (
        f"{field}: {what} is not offered on {catalog.provider}; "
        f"largest: {', '.join(_describe(r, sizes=True) for r in largest)}"
    )
    if others:
        counts = sorted({r.accelerator_count for r in others})[:2]
        cheapest = [
            min((r for r in others if r.accelerator_count == n), key=cost_key) for n in counts
        ]
        message += f"; other counts: {', '.join(_describe(r, sizes=True) for r in cheapest)}"
    return UnsatisfiableResources(
        message,
        hint=f"Ask for less, or set resources.instance_type.{catalog.provider} to a type "
        "mlx's catalog does not know.",
    )


def _coverage(row: InstanceType, request: Request) -> float:
    cpu = min(1.0, row.vcpus / request.cpus) if request.cpus else 1.0
    memory = min(1.0, row.memory_gb / request.memory_gb) if request.memory_gb else 1.0
    return cpu * memory


def _describe_request(request: Request) -> str:
    sizes = []
    if request.cpus is not None:
        sizes.append(f"{request.cpus:g} cpus")
    if request.memory_gb is not None:
        sizes.append(f"{request.memory_gb:g} GB memory")
    if request.accelerator is None:
        return " and ".join(sizes)
    return (
        f"{request.accelerator} with {' and '.join(sizes)}" if sizes else str(request.accelerator)
    )


def _describe(row: InstanceType, *, sizes: bool = False) -> str:
    detail = f"{row.instance_type}, {row.vcpus:g} vCPUs, {row.memory_gb:g} GB"
    inside = detail if sizes else row.instance_type
    if row.accelerator:
        return f"{row.accelerator}:{row.accelerator_count} ({inside})"
    return f"{row.vcpus:g} vCPUs, {row.memory_gb:g} GB ({row.instance_type})"
