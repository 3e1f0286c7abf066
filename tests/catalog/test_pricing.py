"""``mlx price``: rows per provider, cost caps, spot, errors, the table and the JSON."""

from __future__ import annotations

import io
import json
import socket
from types import SimpleNamespace

import pytest
from rich.console import Console

from mlx.catalog.pricing import (
    choice_summary,
    estimate,
    estimate_all,
    price_command,
    price_notes,
    render_price_table,
    to_json,
)
from mlx.units import parse_accelerator


def _resources(accelerator=None, **kwargs):
    fields = {
        "accelerator_request": parse_accelerator(accelerator),
        "cpus": None,
        "memory_gb": None,
        "nodes": 1,
        "instance_type": {},
        "spot": False,
        "max_runtime_seconds": None,
    }
    fields.update(kwargs)
    return SimpleNamespace(**fields)


A100_TWO_NODES_10H = {"nodes": 2, "max_runtime_seconds": 10 * 3600}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("mlx price must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _render(rows, width=100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render_price_table(rows))
    for line in price_notes(rows):
        console.print(line, markup=False, soft_wrap=True)
    return console.file.getvalue()


def test_a100_two_nodes_ten_hours_on_all_three(no_network):
    rows = estimate_all(_resources("A100:1", **A100_TWO_NODES_10H))
    assert [r.provider for r in rows] == ["sagemaker", "vertex", "azure"]
    sagemaker, vertex, azure = rows
    assert (sagemaker.instance_type, sagemaker.accelerator_count) == ("ml.p4d.24xlarge", 8)
    assert sagemaker.price_per_hour == pytest.approx(37.688)
    assert sagemaker.hourly_cost == pytest.approx(75.376)
    assert sagemaker.max_cost == pytest.approx(753.76)
    assert sagemaker.warnings == (
        "A100:1 on sagemaker only comes as 8 in ml.p4d.24xlarge; you pay for 8",
    )
    assert (vertex.instance_type, vertex.accelerator_count) == ("a2-highgpu-1g", 1)
    assert vertex.provider_accelerator_type == "NVIDIA_TESLA_A100"
    assert vertex.max_cost == pytest.approx(84.49)
    assert (azure.instance_type, azure.accelerator) == ("Standard_NC24ads_A100_v4", "A100-80GB")
    assert azure.max_cost == pytest.approx(73.46)
    for row in rows:
        assert row.nodes == 2
        assert row.max_runtime_hours == 10
        assert row.cost_basis == "on-demand"
        assert row.price_date == "2026-11-23"
        assert row.error is None


def test_price_command_prints_the_table_warnings_and_date(capsys, no_network):
    price_command(_resources("A100:1", **A100_TWO_NODES_10H), as_json=False)
    out = capsys.readouterr().out
    for text in (
        "sagemaker*",
        "ml.p4d.24xlarge",
        "8×A100",
        "$37.69 × 2",
        "$753.76",
        "vertex",
        "a2-highgpu-1g",
        "$4.22 × 2",
        "$84.49",
        "Standard_NC24ads_A100_v4",
        "$73.46",
        "Max 10h",
        "* sagemaker: A100:1 on sagemaker only comes as 8 in ml.p4d.24xlarge; you pay for 8",
        "as of 2026-11-23",
        "sagemaker us-east-1, vertex us-central1, azure eastus",
    ):
        assert text in out, text


def test_price_command_json(capsys, no_network):
    price_command(_resources("A100:1", **A100_TWO_NODES_10H), as_json=True)
    document = json.loads(capsys.readouterr().out)
    assert [row["provider"] for row in document] == ["sagemaker", "vertex", "azure"]
    required = {
        "provider",
        "instance_type",
        "accelerator",
        "accelerator_count",
        "price_per_hour",
        "nodes",
        "max_cost",
        "warnings",
    }
    for row in document:
        assert required <= row.keys()
    assert document[0]["max_cost"] == pytest.approx(753.76)
    assert document[0]["warnings"] == [
        "A100:1 on sagemaker only comes as 8 in ml.p4d.24xlarge; you pay for 8"
    ]


def test_to_json_is_plain_data():
    document = to_json(estimate_all(_resources("T4:1")))
    assert json.loads(json.dumps(document)) == document


def test_table_fits_80_columns_without_breaking_instance_names():
    text = _render(estimate_all(_resources("A100:1", **A100_TWO_NODES_10H)), width=80)
    table = [line for line in text.splitlines() if not line.startswith(("* ", "Reference"))]
    assert max(len(line) for line in table) <= 80
    assert any("Standard_NC24ads_A100_v4" in line for line in table)


def test_no_max_runtime_prices_the_providers_own_limit():
    # Vertex stops a CustomJob after 7 days without scheduling.timeout; Azure ML never.
    vertex = estimate("vertex", _resources("T4:1"))
    assert vertex.hourly_cost == pytest.approx(0.621)
    assert (vertex.max_runtime_hours, vertex.max_runtime_source) == (168, "provider default")
    assert vertex.max_cost == pytest.approx(0.621 * 168, abs=0.01)
    azure = estimate("azure", _resources("T4:1"))
    assert (azure.max_cost, azure.max_runtime_source) == (None, "no limit")
    text = _render([vertex, azure])
    assert "Max 168h" not in text and "Max" in text
    assert "vertex: Max is for 168h, vertex's default limit" in text
    assert "azure: no time limit without resources.max_runtime, so no Max" in text


def test_spot_uses_the_spot_estimate():
    row = estimate("sagemaker", _resources("T4:1", spot=True, max_runtime_seconds=3600))
    assert row.cost_basis == "spot"
    assert row.spot_price_per_hour == pytest.approx(0.736 * 0.3)
    assert row.max_cost == pytest.approx(0.22)
    assert row.warnings == ()


def test_spot_where_there_is_none_is_priced_on_demand_with_a_warning():
    row = estimate("azure", _resources("H100:8", spot=True, max_runtime_seconds=3600))
    assert row.cost_basis == "on-demand"
    assert row.max_cost == pytest.approx(98.32)
    assert row.warnings == (
        "Standard_ND96isr_H100_v5 on azure has no spot capacity; priced on-demand",
    )


def test_impossible_provider_is_an_error_row_not_a_failure():
    rows = estimate_all(_resources("L4:2", max_runtime_seconds=3600))
    sagemaker, vertex, azure = rows
    assert sagemaker.instance_type == "ml.g6.12xlarge"
    assert vertex.instance_type == "g2-standard-24"
    assert azure.error == (
        "resources.accelerator: L4 is not offered on azure; "
        "nearest: A10:2 (Standard_NV72ads_A10_v5), T4:4 (Standard_NC64as_T4_v3)"
    )
    assert azure.hint
    assert (azure.instance_type, azure.price_per_hour, azure.max_cost) == (None, None, None)
    text = _render(rows)
    assert "* azure: error: resources.accelerator: L4 is not offered on azure" in text
    assert to_json(rows)[2]["error"] == azure.error


def test_override_not_in_catalog_has_no_price():
    resources = _resources(
        "A100:8", instance_type={"sagemaker": "ml.p6-b200.48xlarge"}, max_runtime_seconds=3600
    )
    row = estimate("sagemaker", resources)
    assert row.instance_type == "ml.p6-b200.48xlarge"
    assert (row.price_per_hour, row.max_cost, row.cost_basis) == (None, None, None)
    assert "not in mlx's catalog" in row.warnings[0]
    assert "—" in _render([row])


def test_override_applies_only_to_its_provider():
    resources = _resources("A100:8", instance_type={"sagemaker": "ml.p4de.24xlarge"})
    sagemaker, vertex, _ = estimate_all(resources)
    assert sagemaker.instance_type == "ml.p4de.24xlarge"
    assert vertex.instance_type == "a2-highgpu-8g"


def test_instance_type_may_be_none():
    assert estimate("azure", _resources(None, instance_type=None)).instance_type == (
        "Standard_D4s_v5"
    )


def test_choice_summary_for_dry_run():
    row = estimate("sagemaker", _resources("A100:1", **A100_TWO_NODES_10H))
    assert choice_summary(row) == (
        "ml.p4d.24xlarge (8× A100): $37.69/h on-demand × 2 nodes = $75.38/h; "
        "max $753.76 for 10h (us-east-1 reference prices of 2026-11-23)"
    )
    cpu = estimate("vertex", _resources(None, cpus=4, memory_gb=16))
    assert choice_summary(cpu) == (
        "e2-standard-4: $0.154/h on-demand; max $25.89 for 168h, vertex's default limit "
        "(us-central1 reference prices of 2026-11-23)"
    )
    azure = estimate("azure", _resources(None, cpus=4, memory_gb=16))
    assert choice_summary(azure) == (
        "Standard_D4s_v5: $0.192/h on-demand; no time limit, so no maximum (set "
        "resources.max_runtime) (eastus reference prices of 2026-11-23)"
    )
    tuning = estimate("sagemaker", _resources("A100:1", **A100_TWO_NODES_10H), trials=20)
    assert choice_summary(tuning).endswith(
        "max $753.76 for 10h (us-east-1 reference prices of 2026-11-23); "
        "tuning: 20 trials ≤ $15,075.20"
    )


def test_works_with_the_spec_model():
    spec = pytest.importorskip("mlx.spec")
    resources = spec.Resources(
        accelerator="A100:1",
        nodes=2,
        max_runtime="10h",
        instance_type={"azure": "Standard_ND96asr_v4"},
    )
    sagemaker, vertex, azure = estimate_all(resources)
    assert sagemaker.max_cost == pytest.approx(753.76)
    assert vertex.instance_type == "a2-highgpu-1g"
    assert (azure.instance_type, azure.accelerator_count) == ("Standard_ND96asr_v4", 8)
