"""The per-provider instance tables shipped in ``mlx/catalog/data/<provider>.csv``.

Each file opens with ``# key: value`` lines (source, date, region, currency, spot_discount,
...) followed by a CSV table, one row per instance type (or, on Vertex, per machine type and
GPU count). Files are read with the ``csv`` module on first use and cached for the process:
loading all three takes a few milliseconds, so ``mlx price`` never needs pandas or a network.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# A path next to the module rather than importlib.resources: mlx is always installed as a
# plain directory (wheel or editable), and importing importlib.resources costs more than the
# whole catalog load.
DATA_DIR = Path(__file__).with_name("data")

_REQUIRED_METADATA = ("provider", "source", "date", "region", "currency")


@dataclass(frozen=True)
class InstanceType:
    """One row of a catalog: a machine and the accelerators it comes with.

    Attributes:
        provider: ``sagemaker``, ``vertex`` or ``azure``.
        instance_type: the provider's name (``ml.g5.xlarge``, ``a2-highgpu-1g``, a VM size).
        vcpus: virtual CPUs.
        memory_gb: memory in GiB.
        accelerator: canonical accelerator name, or None for a CPU-only type.
        accelerator_count: accelerators per machine (0 for CPU-only).
        accelerator_memory_gb: memory per accelerator, or None.
        price_per_hour: on-demand price per machine-hour in the catalog's currency and region.
        spot: whether the type can run as spot / preemptible / low-priority capacity.
        spot_price_per_hour: a spot price estimate, or None when unknown or unavailable.
        machine_price_per_hour: Vertex only: the machine part of ``price_per_hour``.
        accelerator_price_per_hour: Vertex only: the price of one accelerator.
        note: a caveat shown as a warning when the type is chosen (retired, scarce, ...).
    """

    provider: str
    instance_type: str
    vcpus: float
    memory_gb: float
    accelerator: Optional[str]
    accelerator_count: int
    accelerator_memory_gb: Optional[float]
    price_per_hour: float
    spot: bool
    spot_price_per_hour: Optional[float]
    machine_price_per_hour: Optional[float] = None
    accelerator_price_per_hour: Optional[float] = None
    note: Optional[str] = None


@dataclass(frozen=True)
class Catalog:
    """One provider's instance table and where its prices came from.

    Attributes:
        provider: the provider name.
        rows: every instance type, in file order.
        source: where the prices were compiled from.
        date: the date (ISO) the prices were compiled.
        region: the reference region the prices are for.
        currency: the currency of every price (USD).
        metadata: every ``# key: value`` header line, including the ones above.
    """

    provider: str
    rows: tuple[InstanceType, ...]
    source: str
    date: str
    region: str
    currency: str
    metadata: dict[str, str]

    def find(self, instance_type: str) -> tuple[InstanceType, ...]:
        """Rows named ``instance_type``, matched case-insensitively (Azure sizes are).

        Vertex has one row per machine type and GPU count, so there may be several.
        """
        wanted = instance_type.strip().lower()
        return tuple(row for row in self.rows if row.instance_type.lower() == wanted)

    @property
    def names(self) -> tuple[str, ...]:
        """Distinct instance type names, in file order."""
        return tuple(dict.fromkeys(row.instance_type for row in self.rows))


def load_catalog(provider: str) -> Catalog:
    """``provider``'s catalog: the one ``mlx price --refresh`` wrote under ``$MLX_HOME``
    when there is one, else the table shipped in the package. Parsed once per file version.

    Raises:
        KeyError: no catalog exists for ``provider``.
        ValueError: the file is malformed (a packaging bug, not a user error).
    """
    shipped = catalog_path(provider)
    refreshed = refreshed_path(provider)
    try:
        stat = refreshed.stat()
    except OSError:
        return _parsed(provider, str(shipped), 0)
    return _parsed(provider, str(refreshed), stat.st_mtime_ns)


@functools.cache
def _parsed(provider: str, path: str, version: int) -> Catalog:
    return parse_catalog(provider, Path(path).read_text(encoding="utf-8"), path)


def refreshed_path(provider: str) -> Path:
    """Where ``mlx price --refresh`` keeps ``provider``'s table: ``$MLX_HOME/catalog/``,
    never the package (which may be read-only, and is the offline default)."""
    from mlx.settings import mlx_home

    return mlx_home() / "catalog" / f"{provider}.csv"


def catalog_providers() -> tuple[str, ...]:
    """The registered providers that have an instance catalog (``Provider.machines``)."""
    from mlx.providers import providers

    return tuple(p.name for p in providers() if p.machines is not None)


def catalog_path(provider: str) -> Path:
    """Where ``provider``'s catalog file is (``Machines.catalog``: ``package:relative``).

    Raises:
        KeyError: no catalog exists for ``provider``.
    """
    from mlx.errors import MlxError
    from mlx.providers import get

    try:
        machines = get(provider).machines
    except MlxError:
        machines = None
    if machines is None:
        raise KeyError(f"no instance catalog for provider {provider!r}")
    package, _, relative = machines.catalog.partition(":")
    if package == __package__:  # mlx's own tables, next to this module (no import needed)
        return DATA_DIR.parent / relative
    import importlib

    return Path(importlib.import_module(package).__file__ or ".").parent / relative


def __getattr__(name: str) -> tuple[str, ...]:
    # `PROVIDERS`: read from the registry when asked, so a provider registered later counts.
    if name == "PROVIDERS":
        return catalog_providers()
    raise AttributeError(name)


def parse_catalog(provider: str, text: str, origin: str = "<string>") -> Catalog:
    """Parse a catalog file's text: ``# key: value`` header lines, then a CSV table.

    Args:
        provider: the provider the rows belong to.
        text: the file's contents.
        origin: a name for error messages.

    Raises:
        ValueError: a required header key is missing, the provider does not match, or a
            row has a bad number.
    """
    lines = text.splitlines()
    metadata: dict[str, str] = {}
    body_start = 0
    while body_start < len(lines) and lines[body_start].startswith("#"):
        key, sep, value = lines[body_start][1:].partition(":")
        if sep:
            metadata[key.strip()] = value.strip()
        body_start += 1
    missing = [key for key in _REQUIRED_METADATA if not metadata.get(key)]
    if missing:
        raise ValueError(f"{origin}: header lacks {', '.join(missing)}")
    if metadata["provider"] != provider:
        raise ValueError(f"{origin}: header says provider {metadata['provider']!r}")
    spot_discount = float(metadata.get("spot_discount") or 0.0)
    reader = csv.DictReader(lines[body_start:])
    rows = []
    for number, record in enumerate(reader, start=body_start + 2):
        try:
            rows.append(_row(provider, record, spot_discount))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{origin}:{number}: {exc}") from exc
    return Catalog(
        provider=provider,
        rows=tuple(rows),
        source=metadata["source"],
        date=metadata["date"],
        region=metadata["region"],
        currency=metadata["currency"],
        metadata=metadata,
    )


def _row(provider: str, record: dict[str, str], spot_discount: float) -> InstanceType:
    count = int(record["accelerator_count"] or 0)
    machine = _optional_float(record.get("machine_price_per_hour"))
    per_accelerator = _optional_float(record.get("accelerator_price_per_hour"))
    if machine is not None:
        # Vertex bills the machine and each attached GPU separately.
        price = machine + count * (per_accelerator or 0.0)
    else:
        price = float(record["price_per_hour"])
    spot = record["spot"].strip().lower() == "yes"
    spot_price = _optional_float(record.get("spot_price_per_hour"))
    if spot and spot_price is None and spot_discount:
        spot_price = price * (1.0 - spot_discount)
    return InstanceType(
        provider=provider,
        instance_type=record["instance_type"],
        vcpus=float(record["vcpus"]),
        memory_gb=float(record["memory_gb"]),
        accelerator=record["accelerator"] or None,
        accelerator_count=count,
        accelerator_memory_gb=_optional_float(record.get("accelerator_memory_gb")),
        price_per_hour=round(price, 4),
        spot=spot,
        spot_price_per_hour=None if spot_price is None else round(spot_price, 4),
        machine_price_per_hour=machine,
        accelerator_price_per_hour=per_accelerator,
        note=record.get("note") or None,
    )


def _optional_float(text: Optional[str]) -> Optional[float]:
    return float(text) if text else None
