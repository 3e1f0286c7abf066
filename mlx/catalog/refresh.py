"""``mlx price --refresh``: current prices from the providers' public price APIs.

The shipped tables (``mlx/catalog/data``) stay the offline default. A refresh reads each
provider's public price API, where one needs no account, and writes a copy of the shipped
table with the new prices to ``$MLX_HOME/catalog/<provider>.csv`` (never into the package),
which ``tables.load_catalog`` prefers from then on. Instance shapes (vCPUs, memory, GPUs)
always come from the shipped table; a row the API does not price keeps its shipped price,
and the new header says how many rows were refreshed.

Which API a provider has is its catalog header's ``price_api``:

- ``azure-retail``: the Azure Retail Prices API, unauthenticated
  (https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices):
  ``GET <url>?$filter=...`` answers ``{"Items": [...], "NextPageLink": <url or null>}``,
  at most 1,000 items a page, each with ``armSkuName``, ``armRegionName``, ``skuName``
  (``... Spot``, ``... Low Priority``), ``productName`` (``... Windows`` for Windows
  images), ``retailPrice``, ``unitOfMeasure`` and ``effectiveStartDate``.
- ``aws-price-list``: the AWS Price List Bulk API's service price list file for one region,
  ``<url>/offers/v1.0/aws/AmazonSageMaker/current/<region>/index.json``, public
  (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-the-aws-price-list-bulk-api-fetching-price-list-files-manually.html):
  ``products`` by SKU with their ``attributes`` (``usagetype`` such as
  ``USE1-Train:ml.m5.xlarge`` for training instances), and ``terms.OnDemand`` by SKU with
  ``priceDimensions`` whose ``pricePerUnit.USD`` is the hourly price (the JSON layout:
  https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html).
  The Price List Query API needs AWS credentials; the bulk file needs none.
- anything else: no keyless API (Google's Cloud Billing Catalog API needs an API key), so
  the table is not refreshed, and the command says so.

The endpoints are settings (``MLX_AZURE_PRICES_URL``, ``MLX_AWS_PRICE_LIST_URL``) for
private mirrors and for the tests' server. A damaged answer is an error naming what was
wrong; the table in use is then kept as it was.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Optional

from mlx.catalog.tables import catalog_providers, refreshed_path
from mlx.errors import BackendError

AZURE_URL = "https://prices.azure.com/api/retail/prices"
AWS_URL = "https://pricing.us-east-1.amazonaws.com"
_MAX_PAGES = 500  # a paging loop that never ends is a damaged answer, not a long one
_TRAINING_USAGE = re.compile(r"(?:^|-)Train:(ml\.[A-Za-z0-9.]+)$")


@dataclass(frozen=True)
class Prices:
    """What one API said for one region: on-demand and spot prices per instance type."""

    on_demand: dict[str, float]
    spot: dict[str, float]
    source: str


@dataclass(frozen=True)
class Outcome:
    """One provider's refresh: the file written, or why nothing was."""

    provider: str
    path: Optional[str] = None
    refreshed: int = 0
    rows: int = 0
    skipped: Optional[str] = None
    error: Optional[str] = None


def refresh_all(regions: Optional[dict[str, str]] = None) -> list[Outcome]:
    """Refresh every provider's table; ``regions`` may name the region per provider
    (default: the region of the shipped table)."""
    return [refresh_one(p, (regions or {}).get(p)) for p in catalog_providers()]


def refresh_one(provider: str, region: Optional[str] = None) -> Outcome:
    shipped = load_shipped(provider)
    api = shipped.metadata.get("price_api", "none").split(";")[0].strip()
    fetch = _FETCHERS.get(api)
    if fetch is None:
        reason = shipped.metadata.get("price_api", "none").partition(";")[2].strip()
        return Outcome(provider, skipped=reason or "no public price API")
    region = region or shipped.region
    try:
        prices = fetch(region)
    except BackendError as e:
        return Outcome(provider, error=e.message)
    text, refreshed = refreshed_table(provider, prices, region)
    if refreshed == 0:
        return Outcome(provider, error=f"the answer priced none of mlx's {provider} types")
    path = refreshed_path(provider)
    _write(path, text)
    return Outcome(provider, str(path), refreshed, len(shipped.rows))


def load_shipped(provider: str) -> Any:
    from mlx.catalog.tables import catalog_path, parse_catalog

    path = catalog_path(provider)
    return parse_catalog(provider, path.read_text(encoding="utf-8"), str(path))


def refreshed_table(provider: str, prices: Prices, region: str) -> tuple[str, int]:
    """The shipped file with ``prices`` put in, its header saying where they came from."""
    from mlx.catalog.tables import catalog_path

    lines = catalog_path(provider).read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    rows = list(csv.DictReader(body))
    refreshed = 0
    for row in rows:
        name = row["instance_type"]
        if name in prices.on_demand and "price_per_hour" in row:
            row["price_per_hour"] = f"{prices.on_demand[name]:g}"
            row["spot_price_per_hour"] = _spot(prices.spot.get(name), prices.on_demand[name])
            refreshed += 1
    today = datetime.date.today().isoformat()
    meta = {"source": prices.source, "date": today, "region": region}
    out = io.StringIO()
    for line in header:
        key = line[1:].partition(":")[0].strip()
        out.write(f"# {key}: {meta[key]}\n" if key in meta else line + "\n")
    out.write(f"# refreshed: {refreshed} of {len(rows)} rows on {today}; the others keep ")
    out.write("the shipped table's prices\n")
    writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue(), refreshed


def _spot(spot: Optional[float], on_demand: float) -> str:
    # The catalog wants a spot price below on-demand; an API's odd one is left out.
    return f"{spot:g}" if spot is not None and 0 <= spot < on_demand else ""


def _write(path: Any, text: str) -> None:
    """Replace the file whole (a reader never sees half a table)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".csv.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# -- Azure Retail Prices ------------------------------------------------------------------


def azure_prices(region: str) -> Prices:
    """Linux pay-as-you-go and Spot prices of every VM size in ``region``."""
    base = os.environ.get("MLX_AZURE_PRICES_URL") or AZURE_URL
    query = (
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
        f"and armRegionName eq '{region}'"
    )
    url: Optional[str] = base + "?" + urllib.parse.urlencode({"$filter": query})
    on_demand: dict[str, tuple[str, float]] = {}
    spot: dict[str, tuple[str, float]] = {}
    for _ in range(_MAX_PAGES):
        if not url:
            break
        page = _json(url, "Azure Retail Prices")
        items, url = _azure_page(page)
        for item in items:
            _azure_item(item, region, on_demand, spot)
    else:
        raise BackendError(f"Azure Retail Prices: more than {_MAX_PAGES} pages (a loop?)")
    return Prices(
        {k: v for k, (_, v) in on_demand.items()},
        {k: v for k, (_, v) in spot.items()},
        f"Azure Retail Prices API ({base}), Linux pay-as-you-go, fetched by mlx price --refresh",
    )


def _azure_page(page: Any) -> tuple[list[Any], Optional[str]]:
    if not isinstance(page, dict) or not isinstance(page.get("Items"), list):
        raise BackendError("Azure Retail Prices: the answer has no `Items` list")
    link = page.get("NextPageLink")
    if link is not None and not isinstance(link, str):
        raise BackendError("Azure Retail Prices: `NextPageLink` is not a link")
    return page["Items"], link or None


def _azure_item(
    item: Any,
    region: str,
    on_demand: dict[str, tuple[str, float]],
    spot: dict[str, tuple[str, float]],
) -> None:
    try:
        size, sku, product = item["armSkuName"], item["skuName"], item["productName"]
        price, unit = float(item["retailPrice"]), item["unitOfMeasure"]
        when, where = str(item.get("effectiveStartDate") or ""), item["armRegionName"]
    except (KeyError, TypeError, ValueError) as e:
        raise BackendError(f"Azure Retail Prices: an item lacks a usable {e}") from None
    if where != region or unit != "1 Hour" or "Windows" in product or "Low Priority" in sku:
        return
    table = spot if sku.endswith(" Spot") else on_demand
    if size not in table or when > table[size][0]:  # the newest price counts
        table[size] = (when, price)


# -- AWS Price List (bulk) ----------------------------------------------------------------


def aws_prices(region: str) -> Prices:
    """On-demand training prices of every ``ml.*`` type in ``region``."""
    base = (os.environ.get("MLX_AWS_PRICE_LIST_URL") or AWS_URL).rstrip("/")
    url = f"{base}/offers/v1.0/aws/AmazonSageMaker/current/{region}/index.json"
    offer = _json(url, "AWS Price List")
    if not isinstance(offer, dict) or not isinstance(offer.get("products"), dict):
        raise BackendError("AWS Price List: the answer has no `products`")
    on_demand_terms = (offer.get("terms") or {}).get("OnDemand")
    if not isinstance(on_demand_terms, dict):
        raise BackendError("AWS Price List: the answer has no `terms.OnDemand`")
    prices: dict[str, float] = {}
    for sku, product in offer["products"].items():
        usage = ((product or {}).get("attributes") or {}).get("usagetype", "")
        match = _TRAINING_USAGE.search(str(usage))
        if match and sku in on_demand_terms:
            prices[match.group(1)] = _hourly(on_demand_terms[sku], sku)
    return Prices(prices, {}, f"AWS Price List Bulk API ({url}), On-Demand training")


def _hourly(terms: Any, sku: str) -> float:
    """The hourly USD price in one SKU's OnDemand terms."""
    try:
        for term in terms.values():
            for dimension in term["priceDimensions"].values():
                if dimension.get("unit") in ("Hrs", "Hours", "Hour"):
                    return float(dimension["pricePerUnit"]["USD"])
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise BackendError(f"AWS Price List: SKU {sku}'s price is unreadable ({e})") from None
    raise BackendError(f"AWS Price List: SKU {sku} has no hourly price")


# -- shared -------------------------------------------------------------------------------


def _json(url: str, what: str) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            body = answer.read()
    except OSError as e:  # URLError, HTTPError, timeouts
        raise BackendError(f"{what}: {url} could not be read ({e})") from None
    try:
        return json.loads(body)
    except ValueError as e:
        raise BackendError(f"{what}: the answer from {url} is not JSON ({e})") from None


_FETCHERS: dict[str, Callable[[str], Prices]] = {
    "azure-retail": azure_prices,
    "aws-price-list": aws_prices,
}


def refresh_command(*, as_json: bool, regions: Optional[dict[str, str]] = None) -> None:
    """Refresh, say what happened per provider (stderr; ``--json``: the outcomes on stdout),
    and fail (exit 1) when a provider's answer was unusable: its old table is kept."""
    import dataclasses

    from mlx.console import err, print_json, warn

    outcomes = refresh_all(regions)
    if as_json:
        print_json([dataclasses.asdict(o) for o in outcomes])
    for o in outcomes:
        if o.path:
            err.print(f"{o.provider}: {o.refreshed} of {o.rows} prices refreshed into {o.path}")
        elif o.skipped:
            err.print(f"{o.provider}: not refreshed ({o.skipped})")
    failed = [o for o in outcomes if o.error]
    for o in failed:
        warn(f"{o.provider}: prices not refreshed, the table in use is kept: {o.error}")
    if failed:
        raise BackendError(
            f"{len(failed)} price table(s) could not be refreshed",
            hint="Check the network or the MLX_AZURE_PRICES_URL / MLX_AWS_PRICE_LIST_URL "
            "settings; the tables in use still work.",
        )


def spec_regions(spec: Any) -> dict[str, str]:
    """The regions a spec names, per provider (none: the shipped tables' regions)."""
    from mlx.catalog.cost import spec_region

    if spec is None:
        return {}
    found = {p: spec_region(p, spec) for p in catalog_providers()}
    return {p: region for p, region in found.items() if region}
