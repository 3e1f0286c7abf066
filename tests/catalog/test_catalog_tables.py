"""The shipped catalog files: every row parses, prices are sane, sources are stated."""

from __future__ import annotations

import datetime
import subprocess
import sys
import time

import pytest

from mlx.backends.vertex.machines import accelerator_type as vertex_accelerator_type
from mlx.catalog.accelerators import ACCELERATORS, normalize_accelerator
from mlx.catalog.tables import DATA_DIR, PROVIDERS, load_catalog, parse_catalog

CATALOGS = [load_catalog(provider) for provider in PROVIDERS]


@pytest.mark.parametrize("catalog", CATALOGS, ids=PROVIDERS)
def test_every_file_states_its_source_date_and_region(catalog):
    assert "pricing" in catalog.source.lower()
    assert "http" in catalog.source
    datetime.date.fromisoformat(catalog.date)
    assert catalog.date == "2026-11-23"
    assert catalog.region in {"us-east-1", "us-central1", "eastus"}
    assert catalog.currency == "USD"
    assert 0 < float(catalog.metadata["spot_discount"]) < 1
    assert "estimate" in catalog.metadata["spot_source"]


@pytest.mark.parametrize("catalog", CATALOGS, ids=PROVIDERS)
def test_every_row_is_sane(catalog):
    assert len(catalog.rows) > 30
    for row in catalog.rows:
        assert row.provider == catalog.provider
        assert row.vcpus > 0 and row.memory_gb > 0, row
        assert row.price_per_hour > 0, row
        if row.spot_price_per_hour is not None:
            assert row.spot
            assert 0 <= row.spot_price_per_hour < row.price_per_hour, row
        if row.accelerator is None:
            assert row.accelerator_count == 0 and row.accelerator_memory_gb is None, row
        else:
            assert normalize_accelerator(row.accelerator) == row.accelerator, row
            assert row.accelerator_count >= 1, row
            assert row.accelerator_memory_gb >= ACCELERATORS[row.accelerator], row


@pytest.mark.parametrize("catalog", CATALOGS, ids=PROVIDERS)
def test_rows_are_unique(catalog):
    keys = [(r.instance_type, r.accelerator, r.accelerator_count) for r in catalog.rows]
    assert len(keys) == len(set(keys))
    if catalog.provider != "vertex":
        assert len(catalog.names) == len(catalog.rows)


def test_provider_naming_conventions():
    assert all(name.startswith("ml.") for name in load_catalog("sagemaker").names)
    assert all(name.startswith("Standard_") for name in load_catalog("azure").names)
    assert all(name == name.lower() for name in load_catalog("vertex").names)


def test_vertex_rows_price_machine_and_gpus_separately():
    for row in load_catalog("vertex").rows:
        assert row.machine_price_per_hour is not None and row.machine_price_per_hour > 0
        if row.accelerator:
            gpus = row.accelerator_count * row.accelerator_price_per_hour
            assert row.price_per_hour == pytest.approx(row.machine_price_per_hour + gpus, abs=1e-4)
            vertex_accelerator_type(row.accelerator)  # every GPU has an enum spelling
        else:
            assert row.price_per_hour == pytest.approx(row.machine_price_per_hour)


def test_vertex_n1_gpu_limits():
    # Google's N1 limits: T4 x1/x2 up to 48 vCPUs, V100 x1 up to 12 vCPUs and 78 GB.
    rows = load_catalog("vertex").rows
    t4 = [r for r in rows if r.accelerator == "T4" and r.accelerator_count <= 2]
    assert max(r.vcpus for r in t4) <= 48
    v100 = [r for r in rows if r.accelerator == "V100" and r.accelerator_count == 1]
    assert max(r.vcpus for r in v100) <= 12 and max(r.memory_gb for r in v100) <= 78


def test_sagemaker_carries_its_markup_over_ec2():
    # ml.p4d.24xlarge on SageMaker costs more than p4d.24xlarge's EC2 price ($32.77 on demand).
    (row,) = load_catalog("sagemaker").find("ml.p4d.24xlarge")
    assert row.price_per_hour > 32.77


def test_spot_discount_fills_missing_spot_prices():
    (row,) = load_catalog("sagemaker").find("ml.g5.xlarge")
    assert row.spot_price_per_hour == pytest.approx(1.408 * 0.3)
    (h100,) = load_catalog("azure").find("Standard_ND96isr_H100_v5")
    assert not h100.spot and h100.spot_price_per_hour is None


def test_parse_rejects_a_file_without_a_source():
    text = "# provider: azure\n# date: 2026-11-23\ninstance_type,vcpus\n"
    with pytest.raises(ValueError, match="header lacks source, region, currency"):
        parse_catalog("azure", text)


def test_parse_rejects_a_file_for_another_provider():
    text = (DATA_DIR / "azure.csv").read_text()
    with pytest.raises(ValueError, match="header says provider 'azure'"):
        parse_catalog("vertex", text)


def test_parse_names_the_bad_line():
    text = (DATA_DIR / "azure.csv").read_text().replace("0.192", "cheap", 1)
    with pytest.raises(ValueError, match=r"azure.csv:\d+: could not convert"):
        parse_catalog("azure", text, "azure.csv")


def test_unknown_catalog():
    with pytest.raises(KeyError):
        load_catalog("local")


def test_parsing_all_three_is_fast():
    texts = {p: (DATA_DIR / f"{p}.csv").read_text() for p in PROVIDERS}
    start = time.perf_counter()
    for provider, text in texts.items():
        parse_catalog(provider, text)
    # The bench (bench/catalog_load.py) measures the real budget; this only catches a
    # regression by an order of magnitude.
    assert time.perf_counter() - start < 0.1


def test_catalog_imports_no_heavy_modules():
    # Compare with the modules loaded before the import: site hooks (.pth files) may load
    # namespace packages such as `google` on their own.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from mlx.catalog.pricing import estimate_all\n"
        "from mlx.catalog.resolver import resolve\n"
        "resolve('vertex', accelerator=None, cpus=4, memory_gb=16)\n"
        "heavy = {'rich', 'pandas', 'boto3', 'botocore', 'google', 'azure', 'pydantic', 'yaml'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in set(sys.modules) - before}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
