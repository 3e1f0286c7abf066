"""What a spec's ``resources`` cost on each cloud: the rows behind ``mlx price``.

``resources`` is duck-typed: anything with ``accelerator_request`` (an
:class:`~mlx.units.AcceleratorRequest` or None), ``cpus``, ``memory_gb``, ``nodes``,
``instance_type`` (a provider -> type mapping, or None), ``spot`` and
``max_runtime_seconds`` will do, so the spec model and tests can both pass theirs.

Rich is imported only by the functions that render, so pricing stays cheap to import.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from mlx.catalog.cost import money as _money
from mlx.catalog.cost import worst_case_of
from mlx.catalog.resolver import Resolution, resolve
from mlx.catalog.tables import catalog_providers, load_catalog
from mlx.errors import SpecError

if TYPE_CHECKING:
    from rich.table import Table


@dataclass(frozen=True)
class PriceRow:
    """One provider's price for a spec; the JSON of ``mlx price --json`` has these keys.

    Attributes:
        provider: ``sagemaker``, ``vertex`` or ``azure``.
        instance_type: the chosen instance / machine type / VM size; None on error.
        accelerator: canonical accelerator name, None for CPU only or on error.
        accelerator_count: accelerators per node; None on error.
        provider_accelerator_type: the provider's accelerator spelling (Vertex only).
        vcpus: vCPUs per node, when known.
        memory_gb: memory per node in GiB, when known.
        price_per_hour: on-demand price per node-hour, or None when unknown.
        spot_price_per_hour: estimated spot price per node-hour, or None when unknown.
        nodes: nodes the job runs on.
        spot: whether the spec asks for spot capacity.
        max_runtime_hours: how long the job can run, in hours: ``resources.max_runtime``,
            else the provider's own limit on mlx's request; None: no limit.
        hourly_cost: the rate (spot when asked for and known) times nodes, or None.
        max_cost: ``hourly_cost`` times ``max_runtime_hours``: the most the job can cost
            (``mlx.catalog.cost``); None without a runtime limit or a price.
        cost_basis: ``spot`` or ``on-demand``: which rate ``hourly_cost`` uses.
        currency: currency of every price.
        region: the reference region the catalog's prices are for.
        price_source: where the catalog's prices came from.
        price_date: when the catalog's prices were compiled (ISO date).
        warnings: over-provisioning, unknown types, spot caveats.
        error: why the provider cannot run the request; the other fields are None then.
        hint: how to fix ``error``.
        max_runtime_source: ``max_runtime``, ``provider default`` or ``no limit``.
        trials: ``tune.max_trials`` when the spec tunes, else None.
        tuning_max_cost: ``max_cost`` times ``trials``: the most the tuning job can cost.
    """

    provider: str
    instance_type: Optional[str]
    accelerator: Optional[str]
    accelerator_count: Optional[int]
    provider_accelerator_type: Optional[str]
    vcpus: Optional[float]
    memory_gb: Optional[float]
    price_per_hour: Optional[float]
    spot_price_per_hour: Optional[float]
    nodes: int
    spot: bool
    max_runtime_hours: Optional[float]
    hourly_cost: Optional[float]
    max_cost: Optional[float]
    cost_basis: Optional[str]
    currency: Optional[str]
    region: Optional[str]
    price_source: Optional[str]
    price_date: Optional[str]
    warnings: tuple[str, ...] = ()
    error: Optional[str] = None
    hint: Optional[str] = None
    max_runtime_source: Optional[str] = None
    trials: Optional[int] = None
    tuning_max_cost: Optional[float] = None


def estimate(provider: str, resources: Any, trials: Optional[int] = None) -> PriceRow:
    """Price ``resources`` on one cloud.

    Args:
        provider: ``sagemaker``, ``vertex`` or ``azure``.
        resources: the spec's resources (see the module docstring for the attributes).
        trials: a tuning job's ``tune.max_trials``, to price the whole search too.

    Returns:
        The row; an error row (``error`` set, prices None) when the provider cannot
        satisfy the request, so one impossible provider does not hide the others.
    """
    catalog = load_catalog(provider)
    nodes = int(resources.nodes or 1)
    spot = bool(resources.spot)
    hours = resources.max_runtime_seconds / 3600 if resources.max_runtime_seconds else None
    meta: dict[str, Any] = {
        "currency": catalog.currency,
        "region": catalog.region,
        "price_source": catalog.source,
        "price_date": catalog.date,
    }
    overrides = resources.instance_type or {}
    try:
        chosen = resolve(
            provider,
            accelerator=resources.accelerator_request,
            cpus=resources.cpus,
            memory_gb=resources.memory_gb,
            override=overrides.get(provider),
        )
    except SpecError as exc:
        row = _error_row(provider, exc, nodes=nodes, spot=spot, hours=hours, meta=meta)
        return with_worst_case(row, resources, trials)
    rate, basis, spot_warnings = _rate(chosen, spot)
    hourly = None if rate is None else round(rate * nodes, 4)
    row = PriceRow(
        provider=provider,
        instance_type=chosen.instance_type,
        accelerator=chosen.accelerator,
        accelerator_count=chosen.accelerator_count,
        provider_accelerator_type=chosen.provider_accelerator_type,
        vcpus=chosen.vcpus,
        memory_gb=chosen.memory_gb,
        price_per_hour=chosen.price_per_hour,
        spot_price_per_hour=chosen.spot_price_per_hour,
        nodes=nodes,
        spot=spot,
        max_runtime_hours=hours,
        hourly_cost=hourly,
        max_cost=None,
        cost_basis=basis if rate is not None else None,
        warnings=chosen.warnings + tuple(spot_warnings),
        **meta,
    )
    return with_worst_case(row, resources, trials)


def with_worst_case(row: PriceRow, resources: Any, trials: Optional[int]) -> PriceRow:
    """``row`` with the worst case of one job and of ``trials`` of them filled in."""
    case = worst_case_of(row, resources, trials)
    seconds = case.bound.seconds
    return dataclasses.replace(
        row,
        max_runtime_hours=None if seconds is None else seconds / 3600,
        max_runtime_source=case.bound.source,
        max_cost=case.per_job,
        trials=trials,
        tuning_max_cost=case.total if trials else None,
    )


def estimate_all(resources: Any, trials: Optional[int] = None) -> list[PriceRow]:
    """Price ``resources`` on every provider with a catalog, in registry order."""
    return [estimate(provider, resources, trials) for provider in catalog_providers()]


def to_json(rows: list[PriceRow]) -> list[dict[str, Any]]:
    """The documented ``mlx price --json`` document: one object per row, keys as in PriceRow."""
    return [{**dataclasses.asdict(row), "warnings": list(row.warnings)} for row in rows]


def choice_summary(row: PriceRow) -> str:
    """One line for ``translate`` and ``--dry-run``: the chosen instance and its price.

    For example ``ml.p4d.24xlarge (8× A100): $37.69/h on-demand × 2 nodes = $75.38/h;
    max $753.76 for 10h (us-east-1 reference prices of 2026-11-23); tuning: 20 trials ≤
    $15,075.20``. ``train`` and ``tune`` print it before they submit.
    """
    if row.error:
        return f"{row.provider}: {row.error}"
    gpus = f" ({row.accelerator_count}× {row.accelerator})" if row.accelerator else ""
    if row.hourly_cost is None:
        return f"{row.instance_type}{gpus}: price unknown"
    rate = row.spot_price_per_hour if row.cost_basis == "spot" else row.price_per_hour
    text = f"{row.instance_type}{gpus}: {_money(rate)}/h {row.cost_basis}"
    if row.nodes > 1:
        text += f" × {row.nodes} nodes = {_money(row.hourly_cost)}/h"
    text += f"; {_limit(row)} ({row.region} reference prices of {row.price_date})"
    if row.trials and row.tuning_max_cost is not None:
        text += f"; tuning: {row.trials} trials ≤ {_money(row.tuning_max_cost)}"
    return text


def _limit(row: PriceRow) -> str:
    """``max $753.76 for 10h``; the provider's default limit says so; none: no worst case."""
    if row.max_cost is None:
        return "no time limit, so no maximum (set resources.max_runtime)"
    text = f"max {_money(row.max_cost)} for {_hours(row.max_runtime_hours)}"
    if row.max_runtime_source == "provider default":
        text += f", {row.provider}'s default limit"
    return text


def render_price_table(rows: list[PriceRow]) -> Table:
    """The ``mlx price`` table: one row per provider; ``*`` marks a provider with notes.

    The notes themselves (see :func:`price_notes`) go under the table rather than in a
    column, so their full text survives an 80-column terminal; instance names and prices
    never wrap, since users copy them.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    given = all(row.max_runtime_source == "max_runtime" for row in rows)
    hours = next((row.max_runtime_hours for row in rows if row.max_runtime_hours), None)
    trials = next((row.trials for row in rows if row.trials), None)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("Provider", no_wrap=True)
    table.add_column("Instance", no_wrap=True)
    table.add_column("GPUs")
    table.add_column("$/h × nodes", justify="right", no_wrap=True)
    # Each provider's own limit applies without max_runtime: the notes say which.
    table.add_column(
        f"Max {_hours(hours)}" if given and hours else "Max", justify="right", no_wrap=True
    )
    if trials:
        table.add_column(f"Max {trials} trials", justify="right", no_wrap=True)
    table.add_column("Spot", justify="right", no_wrap=True)
    for row in rows:
        provider = f"{row.provider}*" if _row_notes(row) else row.provider
        tuning = [_money(row.tuning_max_cost)] if trials else []
        if row.error:
            cells = [provider, "—", "—", f"— × {row.nodes}", "—", *(["—"] if trials else []), "—"]
        else:
            gpus = f"{row.accelerator_count}×{row.accelerator}" if row.accelerator else "—"
            # Spot when asked for and known; a row that could not use spot has a note.
            cap = _money(row.max_cost)
            cells = [
                provider,
                row.instance_type or "—",
                gpus,
                f"{_money(row.price_per_hour)} × {row.nodes}",
                cap,
                *tuning,
                _money(row.spot_price_per_hour),
            ]
        table.add_row(*(Text(cell) for cell in cells))
    return table


def price_notes(rows: list[PriceRow]) -> list[str]:
    """The lines printed under the table: each provider's errors and warnings, then the source."""
    lines = [f"* {row.provider}: {text}" for row in rows for text in _row_notes(row)]
    lines.append(_source_line(rows))
    return lines


def price_command(
    resources: Any, *, as_json: bool, trials: Optional[int] = None, spec: Any = None
) -> list[PriceRow]:
    """Print ``mlx price``: the table and its notes to stdout, or the JSON document.

    ``trials``: the spec's ``tune.max_trials``, to show the worst case of the search;
    ``spec``: to warn where the spec's region is not the one the prices are for.

    Returns:
        The rows printed, so the caller can choose an exit code (for example when every
        provider failed).
    """
    from rich.text import Text

    from mlx.console import out, print_json

    rows = estimate_all(resources, trials)
    if spec is not None:
        rows = [_with_spec_notes(row, spec) for row in rows]
    if as_json:
        print_json(to_json(rows))
        return rows
    out.print(render_price_table(rows))
    out.print()
    for line in price_notes(rows):
        out.print(Text(line))
    return rows


def _rate(chosen: Resolution, spot: bool) -> tuple[Optional[float], str, list[str]]:
    if not spot:
        return chosen.price_per_hour, "on-demand", []
    where = f"{chosen.instance_type} on {chosen.provider}"
    if chosen.spot_available is False:
        return (
            chosen.price_per_hour,
            "on-demand",
            [f"{where} has no spot capacity; priced on-demand"],
        )
    if chosen.spot_price_per_hour is None:
        note = [] if chosen.price_per_hour is None else [f"no spot price known for {where}"]
        return chosen.price_per_hour, "on-demand", note
    return chosen.spot_price_per_hour, "spot", []


def _error_row(
    provider: str,
    exc: SpecError,
    *,
    nodes: int,
    spot: bool,
    hours: Optional[float],
    meta: dict[str, Any],
) -> PriceRow:
    return PriceRow(
        provider=provider,
        instance_type=None,
        accelerator=None,
        accelerator_count=None,
        provider_accelerator_type=None,
        vcpus=None,
        memory_gb=None,
        price_per_hour=None,
        spot_price_per_hour=None,
        nodes=nodes,
        spot=spot,
        max_runtime_hours=hours,
        hourly_cost=None,
        max_cost=None,
        cost_basis=None,
        error=exc.message,
        hint=exc.hint,
        **meta,
    )


def _with_spec_notes(row: PriceRow, spec: Any) -> PriceRow:
    """``row`` with the spec's region warning and, over ``resources.max_cost``, a note."""
    from mlx.catalog.cost import region_warning

    notes = [region_warning(row.provider, spec), _over_budget(row, spec.resources.max_cost)]
    found = tuple(note for note in notes if note)
    return dataclasses.replace(row, warnings=(*row.warnings, *found)) if found else row


def _over_budget(row: PriceRow, cap: Optional[float]) -> Optional[str]:
    """Which commands ``resources.max_cost`` stops on this provider (``budget``'s rule)."""
    if cap is None or row.error:
        return None
    if row.max_cost is None:
        return f"resources.max_cost ${cap:,.2f} cannot be checked: train and tune refuse"
    if row.max_cost > cap:
        return f"the worst case {_money(row.max_cost)} exceeds resources.max_cost: train refuses"
    if row.trials and row.tuning_max_cost is not None and row.tuning_max_cost > cap:
        return (
            f"{row.trials} trials' worst case {_money(row.tuning_max_cost)} exceeds "
            f"resources.max_cost ${cap:,.2f}: tune refuses"
        )
    return None


def _row_notes(row: PriceRow) -> list[str]:
    if row.error:
        return [f"error: {row.error}", *row.warnings]
    notes = list(row.warnings)
    if row.max_runtime_source == "provider default":
        notes.append(
            f"Max is for {_hours(row.max_runtime_hours)}, {row.provider}'s default limit "
            "(resources.max_runtime is not set)"
        )
    elif row.max_runtime_source == "no limit":
        notes.append("no time limit without resources.max_runtime, so no Max")
    return notes


def _source_line(rows: list[PriceRow]) -> str:
    places = ", ".join(f"{row.provider} {row.region}" for row in rows if row.region)
    dates = sorted({row.price_date for row in rows if row.price_date})
    currency = next((row.currency for row in rows if row.currency), "USD")
    spot = "; spot prices are estimates" if any(row.spot_price_per_hour for row in rows) else ""
    if any(row.cost_basis == "spot" for row in rows):
        spot += "; Max uses them where known"
    return (
        f"Reference on-demand prices in {currency} per node-hour as of {', '.join(dates)} "
        f"({places}){spot}. Prices vary by region and change; check the providers' pages."
    )


def _hours(hours: Optional[float]) -> str:
    return f"{hours:g}h" if hours is not None else "no max_runtime"
