"""``resources.max_cost`` through the real CLI: ``translate``, ``train --dry-run``, ``train``
and ``tune`` refuse a spec whose worst case exceeds it, on every cloud, before any call
(the network is cut off), and say the numbers; the estimate line and the region warning."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlx.catalog.tables import load_catalog
from tests.conftest import write

BLOCKS = {
    "sagemaker": {
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
        "sagemaker": {
            "role": "arn:aws:iam::123456789012:role/SageMakerRole",
            "bucket": "my-bucket",
            "region": "us-east-1",
        },
    },
    "vertex": {
        "image": "python:3.11-slim",
        "vertex": {"project": "my-project", "location": "us-central1", "bucket": "gs://my-bucket"},
    },
    "azure": {
        "image": "python:3.11-slim",
        "azure": {
            "subscription_id": "00000000-0000-0000-0000-000000000000",
            "resource_group": "rg",
            "workspace": "ws",
            "compute": "gpu-cluster",
        },
    },
}
# One instance type per cloud, priced by the shipped catalog.
TYPES = {"sagemaker": "ml.g5.xlarge", "vertex": "g2-standard-4", "azure": "Standard_NC4as_T4_v3"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a max_cost refusal must come before any call")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def spec(tmp_path: Path, provider: str, **resources: Any) -> Path:
    doc: dict[str, Any] = {
        "name": "capped",
        "provider": provider,
        "command": "python train.py",
        "resources": {"instance_type": {provider: TYPES[provider]}, **resources},
        "metrics": [{"name": "loss"}],
        "tune": {
            "objective": {"metric": "loss", "goal": "minimize"},
            "max_trials": 20,
            "parameters": {"x": {"type": "float", "min": 0.0, "max": 1.0}},
        },
        **BLOCKS[provider],
    }
    return write(tmp_path / provider / "job.yaml", yaml.safe_dump(doc))


def rate(provider: str) -> float:
    (row,) = [r for r in load_catalog(provider).rows if r.instance_type == TYPES[provider]][:1]
    return row.price_per_hour


def dollars(value: float) -> str:
    """Prices as mlx shows them: cents, or tenths of a cent under a dollar."""
    return f"${value:,.3f}" if value < 1 else f"${value:,.2f}"


def error_line(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("Error:")]
    return line


@pytest.mark.parametrize("provider", ["sagemaker", "vertex", "azure"])
@pytest.mark.parametrize("command", [("translate",), ("train",), ("train", "--dry-run")])
def test_over_budget_is_refused_naming_the_numbers(
    mlx: Any, tmp_path: Path, provider: str, command: tuple[str, ...]
) -> None:
    path = spec(tmp_path, provider, nodes=2, max_runtime="4h", max_cost=1)
    result = mlx(*command, path)
    assert result.exit_code == 1, result.stderr
    worst = round(2 * rate(provider) * 4, 2)
    catalog = load_catalog(provider)
    assert error_line(result.stderr) == (
        f"Error: {path}: resources.max_cost $1.00 is less than the worst case "
        f"${worst:,.2f} (2 nodes of {TYPES[provider]} × {dollars(rate(provider))}/h on-demand "
        f"× 4h, {catalog.region} price of {catalog.date})"
    )
    assert "Hint: Lower resources.max_runtime" in result.stderr
    assert mlx("jobs", "--json").stdout.strip() == "[]"  # nothing was recorded or sent


@pytest.mark.parametrize("provider", ["sagemaker", "vertex", "azure"])
def test_within_budget_passes_and_says_the_worst_case(
    mlx: Any, tmp_path: Path, provider: str
) -> None:
    path = spec(tmp_path, provider, max_runtime="4h", max_cost=1000)
    result = mlx("translate", path, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["provider"] == provider
    assert f"max {dollars(round(rate(provider) * 4, 2))} for 4h" in result.stderr


def test_a_tuning_job_multiplies_by_max_trials_and_spot_uses_the_spot_price(
    mlx: Any, tmp_path: Path
) -> None:
    # One trial fits in $10; twenty do not.
    path = spec(tmp_path, "sagemaker", max_runtime="4h", max_cost=10)
    assert mlx("translate", path).exit_code == 0
    tuned = mlx("translate", path, "--tune")
    assert tuned.exit_code == 1
    assert f"the worst case ${rate('sagemaker') * 4 * 20:,.2f} (" in tuned.stderr
    assert "× 4h × 20 trials, us-east-1 price of" in tuned.stderr
    refused = mlx("tune", path)
    assert refused.exit_code == 1 and error_line(refused.stderr) == error_line(tuned.stderr)

    # $50: twenty on-demand trials do not fit, twenty at the spot estimate do.
    assert mlx("translate", path, "--tune", "--set", "resources.max_cost=50").exit_code == 1
    spot = spec(tmp_path, "sagemaker", max_runtime="4h", max_cost=50, spot=True)
    (row,) = load_catalog("sagemaker").find(TYPES["sagemaker"])
    allowed = mlx("translate", spot, "--tune")
    assert allowed.exit_code == 0, allowed.stderr
    assert row.spot_price_per_hour is not None
    assert f"tuning: 20 trials ≤ ${row.spot_price_per_hour * 4 * 20:,.2f}" in allowed.stderr


def test_without_max_runtime_the_providers_own_limit_is_priced(mlx: Any, tmp_path: Path) -> None:
    # SageMaker: mlx sends MaxRuntimeInSeconds 86400; Vertex: its 7-day default timeout.
    sagemaker = mlx("translate", spec(tmp_path, "sagemaker", max_cost=1))
    assert sagemaker.exit_code == 1
    assert "× 24h (provider default), us-east-1 price of" in sagemaker.stderr
    vertex = mlx("translate", spec(tmp_path, "vertex", max_cost=1))
    assert "× 168h (provider default), us-central1 price of" in vertex.stderr
    # Azure ML: no timeout at all, so no worst case: the cap cannot be kept.
    azure = mlx("translate", spec(tmp_path, "azure", max_cost=1000))
    assert azure.exit_code == 1
    assert error_line(azure.stderr) == (
        f"Error: {tmp_path / 'azure' / 'job.yaml'}: resources.max_cost $1,000.00 cannot be "
        "checked: azure jobs without resources.max_runtime have no time limit"
    )
    assert "Hint: Set resources.max_runtime" in azure.stderr


def test_an_unknown_price_cannot_be_checked(mlx: Any, tmp_path: Path) -> None:
    path = spec(tmp_path, "sagemaker", max_runtime="1h", max_cost=5)
    result = mlx("translate", path, "--set", "resources.instance_type.sagemaker=ml.new.48xlarge")
    assert result.exit_code == 1
    assert error_line(result.stderr) == (
        f"Error: {path}: resources.max_cost $5.00 cannot be checked: ml.new.48xlarge has no "
        "price in mlx's sagemaker catalog"
    )


def test_max_cost_must_be_positive(mlx: Any, tmp_path: Path) -> None:
    result = mlx("translate", spec(tmp_path, "vertex", max_cost=0))
    assert result.exit_code == 1
    assert "resources.max_cost" in result.stderr and "greater than 0" in result.stderr


def test_a_spec_region_other_than_the_prices_is_warned(mlx: Any, tmp_path: Path) -> None:
    path = spec(tmp_path, "sagemaker", max_runtime="1h")
    result = mlx("translate", path, "--set", "sagemaker.region=eu-west-1")
    assert result.exit_code == 0, result.stderr
    assert (
        "Warning: sagemaker prices are for us-east-1, the spec runs in eu-west-1: its prices "
        "may differ"
    ) in result.stderr
    priced = mlx("price", path, "--set", "vertex.location=europe-west4")
    assert "* vertex: vertex prices are for us-central1, the spec runs in europe-west4" in (
        priced.stdout
    )
    assert "sagemaker prices are for" not in priced.stdout  # us-east-1, as the spec says


def test_price_shows_the_worst_case_of_the_tuning_job(mlx: Any, tmp_path: Path) -> None:
    path = spec(tmp_path, "sagemaker", max_runtime="2h")
    rows = {r["provider"]: r for r in json.loads(mlx("price", path, "--json").stdout)}
    sagemaker = rows["sagemaker"]
    assert sagemaker["trials"] == 20
    assert sagemaker["max_cost"] == pytest.approx(rate("sagemaker") * 2, abs=0.01)
    assert sagemaker["tuning_max_cost"] == pytest.approx(rate("sagemaker") * 2 * 20, abs=0.01)
    assert rows["azure"]["max_runtime_source"] == "max_runtime"
    table = mlx("price", path).stdout
    assert "Max 20 trials" in table
    assert f"${sagemaker['tuning_max_cost']:,.2f}" in table


def test_price_says_where_max_cost_stops_train_or_tune(mlx: Any, tmp_path: Path) -> None:
    # sagemaker: one 2h job fits in $5, twenty do not; azure: no max_runtime, no maximum.
    path = spec(tmp_path, "sagemaker", max_runtime="2h", max_cost=5)
    table = " ".join(mlx("price", path).stdout.split())
    worst = rate("sagemaker") * 2 * 20
    assert (
        f"* sagemaker: 20 trials' worst case ${worst:,.2f} exceeds resources.max_cost $5.00: "
        "tune refuses"
    ) in table
    assert mlx("translate", path).exit_code == 0  # what the note says, the commands do
    assert mlx("translate", path, "--tune").exit_code == 1
    unbounded = " ".join(mlx("price", path, "--set", "resources.max_runtime=null").stdout.split())
    assert "* azure: resources.max_cost $5.00 cannot be checked: train and tune refuse" in (
        unbounded
    )


def test_the_default_limits_priced_are_the_ones_the_rendered_requests_get(
    mlx: Any, tmp_path: Path
) -> None:
    # The catalog headers' default_max_runtime must follow what mlx sends without one.
    requests = {
        provider: json.loads(mlx("translate", spec(tmp_path, provider), "--json").stdout)
        for provider in ("sagemaker", "vertex", "azure")
    }
    sent = requests["sagemaker"]["request"]["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert sent == int(load_catalog("sagemaker").metadata["default_max_runtime"]) == 86400
    vertex = requests["vertex"]["request"]["customJob"]["jobSpec"]
    assert "timeout" not in vertex.get("scheduling", {})  # Vertex's own 7 days apply
    assert load_catalog("vertex").metadata["default_max_runtime"] == str(7 * 86400)
    assert "limits" not in requests["azure"]["request"]  # Azure ML: no limit at all
    assert load_catalog("azure").metadata["default_max_runtime"] == "none"
