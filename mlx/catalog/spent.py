"""What a job has cost so far, or in the end: ``mlx status`` and ``mlx jobs --cost``.

Two bases, the better one where the provider gives it:

- ``billable``: SageMaker's ``BillableTimeInSeconds`` (DescribeTrainingJob), "the billable
  time in seconds"; multiplied by the instance count it is the compute time SageMaker
  bills, and with managed spot training it is already shorter than the training time by
  the spot savings ("(1 - BillableTimeInSeconds / TrainingTimeInSeconds) * 100" is the
  saving: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html).
  It is therefore priced at the on-demand rate, even for spot jobs.
- ``duration``: the provider's own start and end times (``timefmt.run_time``) × nodes ×
  the catalog rate (the spot rate for spot jobs): Vertex AI and Azure ML report no billed
  time, and a running job has none yet.

The price is the one recorded when the job was launched (``info.price``: instance type,
rates, the catalog's region and date), so a later ``mlx price --refresh`` does not rewrite
the cost of past jobs; jobs launched without one are priced from their stored spec. A
tuning job costs the sum of its trials (each priced like a training job). Jobs that run on
this machine, rehearsals included, cost nothing and have no cost object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from mlx.model import JobRecord

if TYPE_CHECKING:
    from mlx.store import Store


def launch_price(spec: Any) -> Optional[dict[str, Any]]:
    """What ``info.price`` records at launch; None where nothing is billed or priced."""
    from mlx.catalog.cost import has_catalog

    if not has_catalog(spec.provider):
        return None
    return _price_of_spec(spec.provider, spec.resources)


def _price_of_spec(provider: str, resources: Any) -> Optional[dict[str, Any]]:
    from mlx.catalog.pricing import estimate

    row = estimate(provider, resources)
    if row.error or row.price_per_hour is None:
        return None
    rate = row.spot_price_per_hour if row.cost_basis == "spot" else row.price_per_hour
    return {
        "instance_type": row.instance_type,
        "price_per_hour": row.price_per_hour,  # on-demand, per node-hour
        "rate": rate,  # what a node-hour of this job costs: spot where asked for and known
        "basis": row.cost_basis,
        "region": row.region,
        "price_date": row.price_date,
        "currency": row.currency,
    }


def job_cost(record: JobRecord, store: Store) -> Optional[dict[str, Any]]:
    """The documented ``cost`` object of ``--json``, or None (runs here, or no price).

    Keys: ``amount`` (in ``currency``, to 6 decimals), ``currency``, ``basis`` (``billable`` or
    ``duration``; a tuning job's is ``billable`` only when every trial's is), ``price_date``,
    ``region`` (of the price), ``partial`` (true while the job, or a trial, still runs),
    and for a tuning job ``trials`` (how many were summed).
    """
    if record.rehearsal or not _billed(record.provider):
        return None
    if record.is_tuning:
        return _tuning_cost(record, store)
    price = _price(record, store)
    if price is None:
        return None
    return _single_cost(record, price)


def _billed(provider: str) -> bool:
    from mlx.catalog.cost import has_catalog

    return has_catalog(provider)


def _tuning_cost(record: JobRecord, store: Store) -> Optional[dict[str, Any]]:
    trials = [t for t in store.list(parent_id=record.id) if not t.rehearsal]
    costs = [c for c in (job_cost(t, store) for t in trials) if c is not None]
    price = _price(record, store)
    if price is None and not costs:
        return None
    first = costs[0] if costs else _shape(0.0, price or {}, "duration", partial=False)
    return {
        "amount": round(sum(c["amount"] for c in costs), 6),
        "currency": first["currency"],
        "basis": "billable"
        if costs and all(c["basis"] == "billable" for c in costs)
        else "duration",
        "price_date": first["price_date"],
        "region": first["region"],
        "partial": not record.state.terminal or any(c["partial"] for c in costs),
        "trials": len(costs),
    }


def _single_cost(record: JobRecord, price: dict[str, Any]) -> dict[str, Any]:
    billable = record.info.get("billable_seconds")
    if record.state.terminal and isinstance(billable, (int, float)):
        seconds, rate, basis = float(billable), price["price_per_hour"], "billable"
    else:
        seconds, rate, basis = _ran_seconds(record), price["rate"], "duration"
    amount = seconds / 3600 * record.nodes * float(rate)
    return _shape(amount, price, basis, partial=not record.state.terminal)


def _ran_seconds(record: JobRecord) -> float:
    """How long the job's machines have run, by the provider's clock; 0 before it started
    (a job that never started, or a pending one, has no start time)."""
    from mlx.timefmt import run_time

    if "started_at" not in record.info:
        return 0.0
    return run_time(record)


def _shape(amount: float, price: dict[str, Any], basis: str, *, partial: bool) -> dict[str, Any]:
    return {
        "amount": round(amount, 6),  # unrounded to cents: short jobs cost fractions of one
        "currency": price.get("currency", "USD"),
        "basis": basis,
        "price_date": price.get("price_date"),
        "region": price.get("region"),
        "partial": partial,
    }


def _price(record: JobRecord, store: Store) -> Optional[dict[str, Any]]:
    """The price recorded at launch (a trial: its tuning job's), else the stored spec's."""
    price = record.info.get("price")
    if isinstance(price, dict):
        return price
    if record.parent_id:
        parent = _parent(record, store)
        if parent is not None and isinstance(parent.info.get("price"), dict):
            return dict(parent.info["price"])
    return _price_of_stored_spec(record)


def _parent(record: JobRecord, store: Store) -> Optional[JobRecord]:
    from mlx.errors import MlxError

    try:
        return store.get(str(record.parent_id))
    except (KeyError, MlxError):
        return None


def _price_of_stored_spec(record: JobRecord) -> Optional[dict[str, Any]]:
    """A job launched before prices were recorded, or adopted (``provider:native-id``).
    An adopted job's spec is what its provider said; without its machine type, the
    catalog's choice for empty ``resources`` would be a guess: no cost then."""
    from mlx.spec import Resources

    resources_doc = record.spec.get("resources") or {}
    named = (resources_doc.get("instance_type") or {}).get(record.provider)
    if record.info.get("adopted") and not named:
        return None
    try:
        resources = Resources.model_validate(resources_doc)
    except ValueError:  # pydantic's ValidationError: a spec from another mlx version
        return None
    return _price_of_spec(record.provider, resources)


def cost_text(cost: Optional[dict[str, Any]]) -> str:
    """``$4.06 (billable, us-east-1 price of 2026-11-23)``; ``so far`` while it runs."""
    if cost is None:
        return "-"
    amount = cost["amount"]
    shown = f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:,.4f}"
    if cost["partial"]:
        shown += " so far"
    trials = f"{cost['trials']} trials, " if "trials" in cost else ""
    return f"{shown} ({trials}{cost['basis']}, {cost['region']} price of {cost['price_date']})"
