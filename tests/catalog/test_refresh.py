"""``mlx price --refresh`` against a price API server on 127.0.0.1 (``tests.emulators.prices``):
tables written under ``$MLX_HOME`` and used by the next ``mlx price``; a damaged answer is a
clear error and the table in use is kept."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlx.catalog.tables import DATA_DIR
from tests.conftest import write
from tests.emulators.prices import PriceServer

TYPES = {"sagemaker": "ml.g5.xlarge", "vertex": "g2-standard-4", "azure": "Standard_NC4as_T4_v3"}


@pytest.fixture
def prices(monkeypatch: pytest.MonkeyPatch) -> Iterator[PriceServer]:
    server = PriceServer(page_size=2)
    monkeypatch.setenv("MLX_AZURE_PRICES_URL", f"{server.url}/api/retail/prices")
    monkeypatch.setenv("MLX_AWS_PRICE_LIST_URL", server.url)
    server.azure_vm("Standard_NC4as_T4_v3", 0.6)
    server.azure_vm("Standard_NC4as_T4_v3", 0.21, sku=" Spot")
    server.azure_vm("Standard_NC4as_T4_v3", 0.1, sku=" Low Priority")
    server.azure_vm("Standard_NC4as_T4_v3", 9.99, productName="Virtual Machines Windows")
    server.azure_vm("Standard_D4s_v5", 0.2)
    server.azure_vm("Standard_D4s_v5", 5.0, region="westeurope")  # filtered out by region
    server.aws_prices["us-east-1"] = {"ml.g5.xlarge": 1.5, "ml.m5.large": 0.12}
    server.aws_prices["eu-west-1"] = {"ml.g5.xlarge": 1.61}
    yield server
    server.close()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    doc = {
        "name": "priced",
        "command": "python train.py",
        "resources": {"instance_type": TYPES, "max_runtime": "1h"},
    }
    write(tmp_path / "train.py", "print('hi')\n")
    return write(tmp_path / "job.yaml", yaml.safe_dump(doc))


def rows(mlx: Any, spec: Path, *flags: str) -> dict[str, dict[str, Any]]:
    result = mlx("price", spec, "--json", *flags)
    assert result.exit_code == 0, result.stderr
    return {row["provider"]: row for row in json.loads(result.stdout)}


def shipped() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in DATA_DIR.glob("*.csv")}


def test_refresh_writes_tables_under_mlx_home_that_the_next_price_uses(
    mlx: Any, spec: Path, prices: PriceServer
) -> None:
    package = shipped()
    before = rows(mlx, spec)
    assert before["azure"]["price_per_hour"] == 0.526  # the shipped table

    result = mlx("price", "--refresh", spec, "--json")
    assert result.exit_code == 0, result.stderr
    home = Path(os.environ["MLX_HOME"]) / "catalog"
    assert "azure: 2 of " in result.stderr and f"refreshed into {home / 'azure.csv'}" in (
        result.stderr
    )
    assert "sagemaker: 2 of " in result.stderr
    assert "vertex: not refreshed (Google's Cloud Billing Catalog API needs an API key" in (
        result.stderr
    )
    today = datetime.date.today().isoformat()
    after = {row["provider"]: row for row in json.loads(result.stdout)}
    azure, sagemaker = after["azure"], after["sagemaker"]
    assert (azure["price_per_hour"], azure["spot_price_per_hour"]) == (0.6, 0.21)
    assert (azure["price_date"], azure["region"]) == (today, "eastus")
    assert "Azure Retail Prices API" in azure["price_source"]
    assert (sagemaker["price_per_hour"], sagemaker["price_date"]) == (1.5, today)
    assert after["vertex"] == before["vertex"]
    assert shipped() == package, "the package's tables are the offline default, never written"

    # Every page was read, following NextPageLink, with the documented filter.
    azure_calls = [p for p in prices.requests if p.startswith("/api/retail/prices")]
    assert len(azure_calls) == 3  # 5 eastus items, 2 a page
    assert "armRegionName+eq+%27eastus%27" in azure_calls[0]

    again = rows(mlx, spec)  # offline now: the refreshed tables
    assert again["azure"]["price_per_hour"] == 0.6
    assert again["sagemaker"]["max_cost"] == 1.5


def test_a_damaged_answer_is_an_error_and_the_table_in_use_is_kept(
    mlx: Any, spec: Path, prices: PriceServer
) -> None:
    assert mlx("price", "--refresh").exit_code == 0
    home = Path(os.environ["MLX_HOME"]) / "catalog"
    kept = (home / "azure.csv").read_bytes()
    prices.azure_items[0]["retailPrice"] = 0.7
    prices.aws_prices["us-east-1"]["ml.g5.xlarge"] = 1.9
    prices.damage = "azure"

    result = mlx("price", "--refresh", spec)
    assert result.exit_code == 1
    assert (
        "Warning: azure: prices not refreshed, the table in use is kept: Azure Retail Prices: "
        "the answer has no `Items` list"
    ) in result.stderr
    assert "Error: 1 price table(s) could not be refreshed" in result.stderr
    assert (home / "azure.csv").read_bytes() == kept
    now = rows(mlx, spec)
    assert now["azure"]["price_per_hour"] == 0.6  # the last good refresh
    assert now["sagemaker"]["price_per_hour"] == 1.9  # its answer was fine

    prices.damage = "aws"
    cut = mlx("price", "--refresh")
    assert cut.exit_code == 1
    assert "sagemaker: prices not refreshed, the table in use is kept: AWS Price List: the " in (
        cut.stderr
    )
    assert "is not JSON" in cut.stderr
    assert rows(mlx, spec)["sagemaker"]["price_per_hour"] == 1.9


def test_refresh_fetches_the_specs_region_and_the_region_warning_goes(
    mlx: Any, spec: Path, prices: PriceServer
) -> None:
    moved = ["--set", "sagemaker.region=eu-west-1"]
    warned = mlx("price", spec, *moved)
    assert "sagemaker prices are for us-east-1, the spec runs in eu-west-1" in warned.stdout
    result = mlx("price", "--refresh", spec, *moved)
    assert result.exit_code == 0, result.stderr
    assert any(p.endswith("/AmazonSageMaker/current/eu-west-1/index.json") for p in prices.requests)
    refreshed = mlx("price", spec, *moved)
    assert "prices are for" not in refreshed.stdout
    row = rows(mlx, spec, *moved)["sagemaker"]
    assert (row["region"], row["price_per_hour"]) == ("eu-west-1", 1.61)


def test_refresh_without_a_spec_prints_what_it_did(mlx: Any, prices: PriceServer) -> None:
    result = mlx("price", "--refresh", "--json")
    assert result.exit_code == 0, result.stderr
    outcomes = {o["provider"]: o for o in json.loads(result.stdout)}
    assert outcomes["azure"]["refreshed"] == 2 and outcomes["sagemaker"]["refreshed"] == 2
    assert outcomes["vertex"]["skipped"].startswith("Google's Cloud Billing Catalog API")
    assert mlx("price").exit_code == 2  # neither a SPEC nor --refresh
