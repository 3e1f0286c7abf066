"""What a job cost, on every cloud, through the real CLI: ``mlx status`` and ``mlx jobs
--cost`` (text and ``--json``) for a job that really ran in the emulated cloud and for one
still running.

Like ``everyday.Everyday``: a provider's tests subclass ``JobCost`` and say what their
cloud reports (``billed``): SageMaker's BillableTimeInSeconds, else the job's own start and
end times. The expected amount is computed here from those and the shipped catalog's price.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlx.catalog.tables import load_catalog
from tests.backends.contract import SCRIPT, started
from tests.conftest import write

NODES = 2


class JobCost:
    provider = ""
    instance_type = ""  # a CPU type in the provider's catalog

    # -- hooks -------------------------------------------------------------------------

    def spec_fields(self) -> dict[str, Any]:
        return {}

    def billed(self, status: dict[str, Any]) -> tuple[float, str]:
        """(seconds per node the provider says the job ran or billed, the basis)."""
        raise NotImplementedError

    # -- the scenario ------------------------------------------------------------------

    @pytest.fixture
    def spec(self, tmp_path: Path) -> Path:
        write(tmp_path / "project" / "code" / "job.py", SCRIPT)
        doc = {
            "name": "costed",
            "command": "python job.py",
            "code": "./code",
            "hyperparameters": {"lr": 0.1, "hold": 1},
            "resources": {"nodes": NODES, "instance_type": {self.provider: self.instance_type}},
            **self.spec_fields(),
        }
        return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))

    def rate(self) -> float:
        """The on-demand price per node-hour in the shipped catalog."""
        rows = load_catalog(self.provider).find(self.instance_type)
        (row,) = [r for r in rows if r.accelerator is None]  # Vertex: one row per GPU count
        return row.price_per_hour

    def test_a_finished_job_costs_what_its_cloud_reports_times_the_price(
        self, mlx: Any, spec: Path
    ) -> None:
        result = mlx("train", spec)
        assert result.exit_code == 0, result.stderr
        job = started(result.stderr)
        status = json.loads(mlx("status", job, "--json").stdout)
        seconds, basis = self.billed(status)
        assert seconds > 0
        catalog = load_catalog(self.provider)
        expected = seconds / 3600 * NODES * self.rate()
        cost = status["cost"]
        assert cost["amount"] == pytest.approx(expected, abs=2e-6), (cost, seconds)
        assert cost == {
            "amount": cost["amount"],
            "currency": "USD",
            "basis": basis,
            "price_date": catalog.date,
            "region": catalog.region,
            "partial": False,
        }
        listed = json.loads(mlx("jobs", "--cost", "--json").stdout)
        assert [j["cost"] for j in listed if j["id"] == job] == [cost]
        assert "cost" not in json.loads(mlx("jobs", "--json").stdout)[0]

        shown = f"${cost['amount']:,.4f}" if cost["amount"] < 0.01 else f"${cost['amount']:,.2f}"
        text = f"{shown} ({basis}, {catalog.region} price of {catalog.date})"
        assert text in " ".join(mlx("status", job).stdout.split())
        table = mlx("jobs", "--cost").stdout
        assert "cost" in table.splitlines()[0] and shown in table

    def test_a_running_job_shows_its_cost_so_far(self, mlx: Any, spec: Path) -> None:
        held = mlx("train", spec, "--detach", "--set", "hyperparameters.hold=600")
        assert held.exit_code == 0, held.stderr
        job = started(held.stderr)
        deadline = time.monotonic() + 60
        status = json.loads(mlx("status", job, "--json").stdout)
        while status["state"] != "running" or status["cost"]["amount"] == 0:
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
            status = json.loads(mlx("status", job, "--json").stdout)
        first = status["cost"]
        assert (first["partial"], first["basis"]) == (True, "duration")
        time.sleep(1.1)
        later = json.loads(mlx("status", job, "--json").stdout)["cost"]
        assert later["amount"] > first["amount"]  # it grows while the job runs
        assert "so far" in mlx("status", job).stdout
        assert mlx("cancel", job).exit_code == 0
