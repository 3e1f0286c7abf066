"""Everyday use on every provider, through the real CLI: ``mlx rerun`` with ``--set``, the
spec's ``tags:`` sent as the provider's tags or labels and filtered by ``mlx jobs --tag``,
and ``mlx open``'s console URL.

Like ``contract.BackendContract``: a provider's tests subclass ``Everyday`` and fill in the
hooks. The contract's ``SCRIPT`` really runs (in the emulated cloud, through the platform
runner), so the rerun's changed value is proven by the argv the script saw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from tests.backends.contract import SCRIPT, SEEN, started
from tests.conftest import write

TAGS = {"team": "vision", "run": "first"}


class Everyday:
    # -- hooks -------------------------------------------------------------------------

    def spec_fields(self) -> dict[str, Any]:
        return {}

    def sent_tags(self, job: str) -> Optional[dict[str, str]]:
        """The tags or labels the provider received for mlx job ``job``; None: it has
        none (the job ran here)."""
        return None

    def console_url(self, status: dict[str, Any]) -> Optional[str]:
        """The console page expected for the job ``mlx status --json`` shows."""
        return None

    # -- the scenario ------------------------------------------------------------------

    @pytest.fixture
    def spec(self, tmp_path: Path) -> Path:
        write(tmp_path / "project" / "code" / "job.py", SCRIPT)
        doc = {
            "name": "everyday",
            "command": "python job.py",
            "code": "./code",
            "hyperparameters": {"lr": 0.1},
            "tags": TAGS,
            **self.spec_fields(),
        }
        return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))

    def test_rerun_sets_a_value_tags_filter_and_open_prints_the_page(
        self, mlx: Any, spec: Path, tmp_path: Path
    ) -> None:
        first = mlx("train", spec)
        assert first.exit_code == 0, first.stderr
        job = started(first.stderr)

        again = mlx("rerun", job, "--set", "hyperparameters.lr=0.5", "--set", "tags.run=again")
        assert again.exit_code == 0, again.stderr
        assert f"Rerunning {job}" in again.stderr
        second = started(again.stderr)
        assert second != job
        assert self.pull_seen(mlx, second, tmp_path / "seen")["argv"] == ["--lr", "0.5"]

        sent = self.sent_tags(second)
        if sent is not None:
            assert sent.items() >= {"team": "vision", "run": "again"}.items()
            assert self.sent_tags(job).items() >= TAGS.items()  # type: ignore[union-attr]
        assert self.listed(mlx, "--tag", "team=vision") == [second, job]
        assert self.listed(mlx, "--tag", "team=vision", "--tag", "run=again") == [second]
        assert self.listed(mlx, "--tag", "team=other") == []

        status = json.loads(mlx("status", second, "--json").stdout)
        assert status["tags"] == {"team": "vision", "run": "again"}
        opened = mlx("open", second)
        expected = self.console_url(status)
        if expected is None:
            assert opened.exit_code == 1
            assert f"Error: {second} has no console page" in opened.stderr
        else:
            assert (opened.exit_code, opened.stdout) == (0, expected + "\n"), (opened, expected)

    def listed(self, mlx: Any, *flags: str) -> list[str]:
        result = mlx("jobs", *flags, "--json")
        assert result.exit_code == 0, result.stderr
        return [job["id"] for job in json.loads(result.stdout)]

    def pull_seen(self, mlx: Any, job: str, dest: Path) -> dict[str, Any]:
        pulled = mlx("pull-artifacts", job, "--include", SEEN, "--dest", dest)
        assert pulled.exit_code == 0, pulled.stderr
        seen: dict[str, Any] = json.loads((dest / SEEN).read_text())
        return seen
