"""What a job can cost at most, before it starts: the one rule behind ``resources.max_cost``,
the estimate ``train``/``tune`` print before they submit (``mlx.catalog.budget``), and
``mlx price``'s Max columns. The region check of the prices is here too.

The worst case is ``runtime bound × nodes × rate`` per job, times ``tune.max_trials`` for a
tuning job (every trial is a training job of the same resources). The rate is the spot
price when the spec asks for spot and one is known, else the on-demand price. The runtime
bound is ``resources.max_runtime``; without one, it is what the provider does with the
request mlx renders, read from the catalog header (``default_max_runtime``, with its
source): SageMaker stops a job after 1 day, Vertex AI after 7 days, and an Azure ML command
job never, so no worst case exists there without ``max_runtime``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from mlx.catalog.tables import load_catalog

if TYPE_CHECKING:
    from mlx.catalog.pricing import PriceRow


@dataclass(frozen=True)
class Bound:
    """How long one job can run on a provider: seconds (None: no limit) and why."""

    seconds: Optional[int]
    source: str  # "max_runtime", "provider default" or "no limit"
    note: str = ""  # the catalog's explanation of the provider's default


@dataclass(frozen=True)
class WorstCase:
    """The most a spec can cost on one provider.

    Attributes:
        row: the price row (instance, rate, region and date of the price).
        bound: the runtime bound each job has.
        per_job: the most one training job (or one trial) costs; None when unknown.
        trials: ``tune.max_trials`` for a tuning job, else None.
        total: ``per_job`` × trials (or ``per_job``); None when unknown.
        unknown: why ``total`` is None (no price, no runtime bound, no machine).
    """

    row: PriceRow
    bound: Bound
    per_job: Optional[float]
    trials: Optional[int]
    total: Optional[float]
    unknown: Optional[str]


def runtime_bound(provider: str, max_runtime_seconds: Optional[int]) -> Bound:
    """``max_runtime``, else the provider's own limit on the request mlx renders."""
    if max_runtime_seconds:
        return Bound(int(max_runtime_seconds), "max_runtime")
    meta = load_catalog(provider).metadata
    default = (meta.get("default_max_runtime") or "none").strip().lower()
    note = meta.get("default_max_runtime_source", "")
    if default == "none":
        return Bound(None, "no limit", note)
    return Bound(int(default), "provider default", note)


def worst_case_of(row: PriceRow, resources: Any, trials: Optional[int] = None) -> WorstCase:
    """The worst case of an already priced row (``mlx price`` has the rows)."""
    bound = runtime_bound(row.provider, resources.max_runtime_seconds)
    unknown = _why_unknown(row, bound)
    if unknown is not None:
        return WorstCase(row, bound, None, trials, None, unknown)
    exact = float(row.hourly_cost or 0) * (bound.seconds or 0) / 3600
    return WorstCase(row, bound, round(exact, 2), trials, round(exact * (trials or 1), 2), None)


def _why_unknown(row: PriceRow, bound: Bound) -> Optional[str]:
    if row.error:
        return row.error
    if row.hourly_cost is None:
        return f"{row.instance_type} has no price in mlx's {row.provider} catalog"
    if bound.seconds is None:
        return f"{row.provider} jobs without resources.max_runtime have no time limit"
    return None


def price_origin(row: PriceRow) -> str:
    return f"{row.region} price of {row.price_date}"


def region_warning(provider: str, spec: Any) -> Optional[str]:
    """A warning when the spec's region for ``provider`` is not the one the catalog's
    prices are for (the header's ``region_setting`` names the provider block's field);
    None when they match or the spec names no region (Azure's is the workspace's)."""
    region = spec_region(provider, spec)
    catalog = load_catalog(provider) if region else None
    if catalog is None or region == catalog.region:
        return None
    return (
        f"{provider} prices are for {catalog.region}, the spec runs in {region}: "
        f"its prices may differ (`mlx price --refresh` fetches them where {provider} "
        "publishes them)"
    )


def spec_region(provider: str, spec: Any) -> Optional[str]:
    """The region ``spec`` names for ``provider`` (the field the catalog header's
    ``region_setting`` names: ``sagemaker.region``, ``vertex.location``), or None."""
    if not has_catalog(provider):
        return None
    field = load_catalog(provider).metadata.get("region_setting")
    settings = spec.provider_settings(provider) if field else None
    region = getattr(settings, field, None) if field and settings is not None else None
    return str(region) if region else None


def has_catalog(provider: str) -> bool:
    """Whether ``provider``'s jobs are billed by mlx's catalog (clouds, not this machine)."""
    from mlx.catalog.tables import catalog_providers

    return provider in catalog_providers()


def money(value: Optional[float]) -> str:
    if value is None:
        return "—"
    return f"${value:,.3f}" if value < 1 else f"${value:,.2f}"
