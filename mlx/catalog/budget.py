"""``resources.max_cost`` and the estimate said before a submit: the worst case of a spec
(``mlx.catalog.cost``) on its provider, from the price ``mlx price`` shows.

A cap that cannot be checked refuses the job rather than letting it through: a budget set
by an administrator means "no more than", and an unknown price or an unbounded run cannot
promise that. Jobs that run on this machine are not billed, so their cap is not checked.
"""

from __future__ import annotations

from typing import Any, Optional

from mlx.catalog.cost import (
    WorstCase,
    has_catalog,
    money,
    price_origin,
    region_warning,
    worst_case_of,
)
from mlx.catalog.pricing import estimate
from mlx.errors import SpecError


def worst_case(provider: str, resources: Any, trials: Optional[int] = None) -> WorstCase:
    """The most ``resources`` can cost on ``provider`` (``trials``: a tuning job's budget)."""
    return worst_case_of(estimate(provider, resources), resources, trials)


def check_max_cost(spec: Any, *, tuning: bool) -> None:
    """Refuse ``spec`` when its worst case on its provider exceeds ``resources.max_cost``.

    Raises:
        SpecError: over budget, or a budget that cannot be checked (unknown price or no
            runtime bound); the message names the numbers.
    """
    cap = spec.resources.max_cost
    if cap is None or not has_catalog(spec.provider):
        return  # no cap, or a provider that runs here: nothing is billed
    trials = spec.tune.max_trials if tuning and spec.tune is not None else None
    case = worst_case(spec.provider, spec.resources, trials)
    where = f"{spec.source}: resources.max_cost ${cap:,.2f}"
    if case.total is None:
        raise SpecError(
            f"{where} cannot be checked: {case.unknown}",
            hint=_unknown_hint(case),
        )
    if case.total > cap:
        raise SpecError(
            f"{where} is less than the worst case ${case.total:,.2f} "
            f"({_formula(case)}, {price_origin(case.row)})",
            hint="Lower resources.max_runtime, nodes or tune.max_trials, use spot, "
            "or raise resources.max_cost.",
        )


def _unknown_hint(case: WorstCase) -> str:
    if case.bound.seconds is None:
        return "Set resources.max_runtime (e.g. 4h) so the job has a limit mlx can price."
    return "Set resources.instance_type to a type `mlx price` knows, or remove resources.max_cost."


def _formula(case: WorstCase) -> str:
    """``2 nodes × $1.21/h spot × 4h × 20 trials``."""
    row, hours = case.row, (case.bound.seconds or 0) / 3600
    rate = row.spot_price_per_hour if row.cost_basis == "spot" else row.price_per_hour
    parts = [
        f"{row.nodes} node{'s' if row.nodes > 1 else ''} of {row.instance_type}",
        f"{money(rate)}/h {row.cost_basis}",
        f"{hours:g}h" + ("" if case.bound.source == "max_runtime" else f" ({case.bound.source})"),
    ]
    if case.trials:
        parts.append(f"{case.trials} trials")
    return " × ".join(parts)


def print_estimate(spec: Any, *, tuning: bool) -> None:
    """``Instance: <type>: <rate>; max <worst case> (...); tuning: N trials ≤ $X`` on
    stderr, and the region warning: what ``translate`` shows and ``train``/``tune`` say
    before they submit. Nothing for a provider that runs here."""
    if not has_catalog(spec.provider):
        return
    from rich.markup import escape

    from mlx.catalog.pricing import choice_summary
    from mlx.console import err, warn

    trials = spec.tune.max_trials if tuning and spec.tune is not None else None
    row = estimate(spec.provider, spec.resources, trials)
    err.print(f"Instance: {escape(choice_summary(row))}")
    warning = region_warning(spec.provider, spec)
    if warning:
        warn(warning)
