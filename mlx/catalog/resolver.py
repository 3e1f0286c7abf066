"""Map ``resources`` (accelerator, cpus, memory) to one provider's cheapest machine, offline.

Rules, in order:

1. ``resources.instance_type.<provider>`` always wins. A type in the catalog is priced and
   checked against the request (a warning if it falls short); a type mlx does not know is
   accepted as is, with an unknown price and a warning: users know newer types than we do.
2. Otherwise the cheapest catalog row that has the accelerator type, at least the count, and
   at least the cpus and memory asked for. Neither cpus nor memory given means at least
   ``DEFAULT_CPUS`` and ``DEFAULT_MEMORY_GB``, with or without a GPU.
3. The accelerator type is exact, except that a bigger-memory variant of the same chip
   (``A100`` -> ``A100-80GB``) may be chosen when it is the cheapest match, with a warning.
   Azure, for example, sells single A100s only as 80 GB, and 40 GB ones only in eights.
4. Where the instance type fixes the count (SageMaker, Azure), more accelerators than asked for
   is allowed with a warning ("you pay for 8"). On Vertex the count is a field of the request
   (``acceleratorCount``), so mlx never changes it: a count the machine family does not allow
   is an error, like a type the provider does not offer at all.
5. An impossible request raises :class:`UnsatisfiableResources` naming the field and the
   nearest valid choices.

``local`` has no catalog: :func:`resolve` returns instance type ``local`` with no price.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Optional

from mlx.catalog.accelerators import normalize_accelerator, provider_accelerator_type
from mlx.catalog.matching import (
    DEFAULT_CPUS,
    DEFAULT_MEMORY_GB,
    EPSILON,
    Request,
    acceptable,
    cost_key,
    exact_count_for,
    fits,
    with_defaults,
)
from mlx.catalog.nearest import UnsatisfiableResources, offered_accelerators, unsatisfiable
from mlx.catalog.tables import Catalog, InstanceType, catalog_providers, load_catalog
from mlx.errors import SpecError
from mlx.units import AcceleratorRequest

__all__ = [
    "DEFAULT_CPUS",
    "DEFAULT_MEMORY_GB",
    "Resolution",
    "UnsatisfiableResources",
    "accelerator_types",
    "allowed_counts",
    "resolve",
]


@dataclass(frozen=True)
class Resolution:
    """The machine chosen for one provider.

    Attributes:
        provider: ``sagemaker``, ``vertex``, ``azure`` or ``local``.
        instance_type: the SageMaker instance type, the Vertex ``machineType`` or the Azure
            VM size; ``local`` for local runs.
        accelerator: canonical accelerator name, or None for CPU only.
        accelerator_count: accelerators per node (0 for CPU only). On Vertex this is the
            ``acceleratorCount`` to send.
        provider_accelerator_type: the provider's own spelling of the accelerator when its
            request has such a field (Vertex ``acceleratorType``, e.g. ``NVIDIA_TESLA_T4``);
            None elsewhere.
        vcpus: vCPUs per node, or None when unknown (a type not in the catalog).
        memory_gb: memory per node in GiB, or None when unknown.
        price_per_hour: on-demand price per node-hour in the catalog's reference region, or
            None when unknown.
        spot_price_per_hour: estimated spot price per node-hour, or None when unknown.
        spot_available: whether the type can run as spot; None when unknown.
        in_catalog: whether the type came from mlx's catalog.
        warnings: things the user should know about the choice (over-provisioning, ...).
    """

    provider: str
    instance_type: str
    accelerator: Optional[str]
    accelerator_count: int
    provider_accelerator_type: Optional[str]
    vcpus: Optional[float]
    memory_gb: Optional[float]
    price_per_hour: Optional[float]
    spot_price_per_hour: Optional[float]
    spot_available: Optional[bool]
    in_catalog: bool
    warnings: tuple[str, ...] = ()


def resolve(
    provider: str,
    *,
    accelerator: Optional[AcceleratorRequest],
    cpus: Optional[float],
    memory_gb: Optional[float],
    override: Optional[str] = None,
) -> Resolution:
    """Choose the machine for ``provider`` that satisfies the request at the lowest price.

    Args:
        provider: ``sagemaker``, ``vertex``, ``azure`` or ``local``.
        accelerator: accelerator type and count per node, or None for CPU only.
        cpus: at least this many vCPUs per node, or None.
        memory_gb: at least this much memory (GiB) per node, or None.
        override: ``resources.instance_type.<provider>``, which always wins.

    Returns:
        The chosen machine, its price and any warnings.

    Raises:
        UnsatisfiableResources: nothing on the provider fits; the message names the field
            and the nearest valid choices.
        SpecError: an unknown provider or accelerator, or a malformed override.
    """
    request = Request(_canonical(accelerator), cpus, memory_gb)
    if _runs_here(provider):
        return _local(provider, request)
    catalog = _catalog(provider)
    if override and override.strip():
        return _resolve_override(catalog, request, override.strip())
    wanted = with_defaults(request)
    exact = exact_count_for(provider)
    matches = [row for row in catalog.rows if fits(row, wanted, exact_count=exact)]
    if not matches:
        raise unsatisfiable(catalog, wanted)
    best = min(matches, key=cost_key)
    return _resolution(best, _choice_warnings(catalog, best, wanted))


def accelerator_types(provider: str) -> tuple[str, ...]:
    """The canonical accelerator names ``provider``'s catalog offers, in catalog order."""
    return offered_accelerators(_catalog(provider))


def allowed_counts(provider: str, accelerator: str) -> tuple[int, ...]:
    """The per-node counts of ``accelerator`` that ``provider`` offers, ascending."""
    name = normalize_accelerator(accelerator)
    rows = _catalog(provider).rows
    return tuple(sorted({row.accelerator_count for row in rows if row.accelerator == name}))


# -- request handling -------------------------------------------------------------------


def _canonical(accelerator: Optional[AcceleratorRequest]) -> Optional[AcceleratorRequest]:
    if accelerator is None:
        return None
    try:
        name = normalize_accelerator(accelerator.type)
    except ValueError as exc:
        raise SpecError(f"resources.accelerator: {exc}") from None
    if accelerator.count < 1:
        raise SpecError(f"resources.accelerator: count must be at least 1, not {accelerator.count}")
    return AcceleratorRequest(name, accelerator.count)


def _runs_here(provider: str) -> bool:
    from mlx.providers import Capability, names
    from mlx.providers import get as get_provider

    return provider in names() and get_provider(provider).can(Capability.RUNS_HERE)


def _catalog(provider: str) -> Catalog:
    known = catalog_providers()
    if provider not in known:
        from mlx.providers import names

        close = difflib.get_close_matches(provider, names(), n=1)
        suggestion = f"; did you mean {close[0]}?" if close else ""
        raise SpecError(
            f"provider: unknown provider {provider!r}{suggestion}",
            hint=f"Use one of: {', '.join(names())}.",
        )
    return load_catalog(provider)


# -- results ----------------------------------------------------------------------------


def _resolution(row: InstanceType, warnings: list[str]) -> Resolution:
    return Resolution(
        provider=row.provider,
        instance_type=row.instance_type,
        accelerator=row.accelerator,
        accelerator_count=row.accelerator_count,
        provider_accelerator_type=(
            provider_accelerator_type(row.provider, row.accelerator) if row.accelerator else None
        ),
        vcpus=row.vcpus,
        memory_gb=row.memory_gb,
        price_per_hour=row.price_per_hour,
        spot_price_per_hour=row.spot_price_per_hour,
        spot_available=row.spot,
        in_catalog=True,
        warnings=tuple(warnings),
    )


def _local(provider: str, request: Request) -> Resolution:
    wanted = request.accelerator
    return Resolution(
        provider=provider,
        instance_type=provider,
        accelerator=wanted.type if wanted else None,
        accelerator_count=wanted.count if wanted else 0,
        provider_accelerator_type=None,
        vcpus=None,
        memory_gb=None,
        price_per_hour=None,
        spot_price_per_hour=None,
        spot_available=None,
        in_catalog=False,
    )


def _choice_warnings(catalog: Catalog, row: InstanceType, request: Request) -> list[str]:
    warnings = []
    wanted = request.accelerator
    provider = catalog.provider
    if wanted is not None and row.accelerator != wanted.type:
        warnings.append(
            f"{wanted} on {provider} uses the bigger {row.accelerator}:{row.accelerator_count} "
            f"in {row.instance_type}, the cheapest match; write {row.accelerator} to ask for it"
        )
    if wanted is not None and row.accelerator_count > wanted.count:
        exact_fits = any(
            fits(other, request, exact_count=True)
            for other in catalog.rows
            if other.accelerator == row.accelerator
        )
        n = row.accelerator_count
        if exact_fits:
            warnings.append(
                f"{wanted} on {provider}: the cheapest match with these cpus and memory is "
                f"{row.instance_type} with {n}; you pay for {n}"
            )
        else:
            warnings.append(
                f"{wanted} on {provider} only comes as {n} in {row.instance_type}; you pay for {n}"
            )
    return warnings + _notes(row)


# -- overrides --------------------------------------------------------------------------


def _resolve_override(catalog: Catalog, request: Request, name: str) -> Resolution:
    provider = catalog.provider
    field = f"resources.instance_type.{provider}"
    rows = catalog.find(name)
    if not rows:
        return _unknown_override(catalog, request, name, field)
    wanted = request.accelerator
    cpu_only = [r for r in rows if r.accelerator is None]
    with_gpu = []
    if wanted is not None:
        with_gpu = [r for r in rows if r.accelerator in acceptable(wanted.type)]
        listed = any(r.accelerator_count == wanted.count for r in with_gpu)
        if not listed and cpu_only and exact_count_for(provider):
            # A machine that takes attached GPUs (Vertex's N1, N2, E2), but not this many
            # of this kind in mlx's catalog. Keep the user's count: it is the request's
            # own accelerator count, and the user asked for the machine explicitly.
            return _unlisted_attachment(catalog, cpu_only[0], wanted, field)
    if with_gpu:
        exact = [r for r in with_gpu if wanted and r.accelerator_count == wanted.count]
        row = min(exact or with_gpu, key=cost_key)
    elif wanted is None and cpu_only:
        row = cpu_only[0]
    else:
        row = min(rows, key=cost_key)
    problems = _shortfalls(row, request)
    warnings = [f"{field}: {row.instance_type} does not satisfy resources: {'; '.join(problems)}"]
    return _resolution(row, (warnings if problems else []) + _notes(row))


def _check_prefix(catalog: Catalog, name: str, field: str) -> None:
    """A provider whose machine types share a prefix (SageMaker's ``ml.``) rejects names
    without it (EC2 names): catch the common slip before a job is submitted."""
    from mlx.providers import get

    provider = get(catalog.provider)
    prefix = provider.machines.instance_prefix if provider.machines else None
    if not prefix or name.startswith(prefix):
        return
    guess = f" Did you mean {prefix}{name}?" if catalog.find(f"{prefix}{name}") else ""
    example = next((n for n in catalog.names if n.startswith(prefix)), prefix + "...")
    raise SpecError(
        f"{field}: {name!r} is not a {provider.title} instance type; they start with "
        f"{prefix!r}.{guess}",
        hint=f"{provider.title} training instance types look like {example}.",
    )


def _notes(row: InstanceType) -> list[str]:
    return [f"{row.instance_type}: {row.note}"] if row.note else []


def _shortfalls(row: InstanceType, request: Request) -> list[str]:
    problems = []
    wanted = request.accelerator
    if wanted is not None and (
        row.accelerator not in acceptable(wanted.type) or row.accelerator_count < wanted.count
    ):
        has = f"{row.accelerator}:{row.accelerator_count}" if row.accelerator else "no accelerator"
        problems.append(f"it has {has}, resources.accelerator asks for {wanted}")
    if request.cpus is not None and row.vcpus + EPSILON < request.cpus:
        problems.append(f"it has {row.vcpus:g} vCPUs, resources.cpus asks for {request.cpus:g}")
    if request.memory_gb is not None and row.memory_gb + EPSILON < request.memory_gb:
        problems.append(
            f"it has {row.memory_gb:g} GB, resources.memory asks for {request.memory_gb:g} GB"
        )
    return problems


def _unknown_override(catalog: Catalog, request: Request, name: str, field: str) -> Resolution:
    provider = catalog.provider
    _check_prefix(catalog, name, field)
    close = difflib.get_close_matches(name, catalog.names, n=1, cutoff=0.8)
    guess = f" (did you mean {close[0]}?)" if close else ""
    wanted = request.accelerator
    try:
        spelled = provider_accelerator_type(provider, wanted.type) if wanted else None
    except ValueError as exc:
        raise SpecError(f"resources.accelerator: {exc}") from None
    return Resolution(
        provider=provider,
        instance_type=name,
        accelerator=wanted.type if wanted else None,
        accelerator_count=wanted.count if wanted else 0,
        provider_accelerator_type=spelled,
        vcpus=None,
        memory_gb=None,
        price_per_hour=None,
        spot_price_per_hour=None,
        spot_available=None,
        in_catalog=False,
        warnings=(
            f"{field}: {name} is not in mlx's catalog{guess}; its price is unknown and mlx "
            "cannot check it against resources",
        ),
    )


def _unlisted_attachment(
    catalog: Catalog, machine: InstanceType, wanted: AcceleratorRequest, field: str
) -> Resolution:
    listed = sorted(
        {
            f"{r.accelerator}:{r.accelerator_count}"
            for r in catalog.find(machine.instance_type)
            if r.accelerator
        }
    )
    allowed = f" (it lists {', '.join(listed)} with it)" if listed else ""
    per_gpu = next(
        (
            r.accelerator_price_per_hour
            for r in catalog.rows
            if r.accelerator == wanted.type and r.accelerator_price_per_hour is not None
        ),
        None,
    )
    price = spot_price = None
    if machine.machine_price_per_hour is not None and per_gpu is not None:
        price = round(machine.machine_price_per_hour + wanted.count * per_gpu, 4)
        discount = float(catalog.metadata.get("spot_discount") or 0.0)
        spot_price = round(price * (1.0 - discount), 4) if machine.spot and discount else None
    try:
        spelled = provider_accelerator_type(catalog.provider, wanted.type)
    except ValueError as exc:
        raise SpecError(f"resources.accelerator: {exc}") from None
    warning = (
        f"{field}: mlx's catalog does not list {machine.instance_type} with {wanted}{allowed}; "
        f"{catalog.provider} may reject the job"
    )
    return Resolution(
        provider=catalog.provider,
        instance_type=machine.instance_type,
        accelerator=wanted.type,
        accelerator_count=wanted.count,
        provider_accelerator_type=spelled,
        vcpus=machine.vcpus,
        memory_gb=machine.memory_gb,
        price_per_hour=price,
        spot_price_per_hour=spot_price,
        spot_available=machine.spot,
        in_catalog=True,
        warnings=(warning,),
    )
