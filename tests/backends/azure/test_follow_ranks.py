"""Following an Azure job of many ranks: one listing per poll, and a ranged GET only for
the ranks that grew, from where the last read ended (issue 19)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.backends.azure.conftest import Azure, azure_spec
from tests.backends.azure.test_backend import log_reads
from tests.emulators.proxy import FaultProxy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def detach(mlx: Any, spec: Path) -> str:
    result = mlx("train", spec, "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["id"]


def wait_until(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)


def listings(proxy: FaultProxy) -> list[Any]:
    return [r for r in proxy.requests if r.method == "GET" and "comp=list" in r.path]


@pytest.mark.parametrize("ranks", [1, 16])
def test_only_grown_ranks_are_fetched_from_their_last_offset(
    mlx: Any, tmp_path: Path, azure: Azure, proxied: FaultProxy, ranks: int
) -> None:
    job = detach(mlx, azure_spec(tmp_path, resources={"nodes": ranks}))
    azure.server.set_status(job, "Running")
    for rank in range(ranks):
        azure.log(job, [f"rank {rank} line 0"], process=rank)
    grown = sorted({0, ranks // 3, ranks - 1})  # 1 rank: rank 0; 16 ranks: 0, 5, 15

    def play() -> None:
        wait_until(lambda: len(log_reads(proxied)) == ranks)  # the history was read
        quiet = len(listings(proxied))
        wait_until(lambda: len(listings(proxied)) >= quiet + 3)  # polls with nothing new
        for rank in grown:
            azure.log(job, [f"rank {rank} line 1"], process=rank)
        wait_until(lambda: sum(map(len, log_reads(proxied).values())) == ranks + len(grown))
        azure.server.set_status(job, "Completed")

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    result = mlx("logs", job, "-f")
    thread.join()
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == ranks + len(grown)

    reads = log_reads(proxied)
    assert len(reads) == ranks  # every rank's history, once
    for blob, ranges in reads.items():
        rank = int(blob.removesuffix(".txt").rsplit("_", 1)[1])
        first = len(f"rank {rank} line 0\n")
        if rank in grown:  # the new line only, from where the first read ended
            assert ranges == [(0, first - 1), (first, 2 * first - 1)], (blob, ranges)
        else:  # did not grow: never fetched again
            assert ranges == [(0, first - 1)], (blob, ranges)
    # Each poll is one listing of the run's whole log prefix, whatever the rank count.
    prefixes = {parse_qs(urlsplit(r.path).query).get("prefix", [""])[0] for r in listings(proxied)}
    assert len(prefixes) == 1 and prefixes.pop().endswith("/user_logs/")
