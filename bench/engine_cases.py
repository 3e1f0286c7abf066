"""The cases ``bench/engine.py`` runs under pytest (the emulated clouds are test fixtures).

Not collected by the test suite (``testpaths = ["tests"]``, and not named ``test_*.py``).
Each case tunes the same objective with the same seed and budget on local and on one
emulated cloud with ``tune.engine: mlx``, and appends one JSON line per run to
``$MLX_BENCH_OUT``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import write
from tests.tuning.engine_scenarios import OBJECTIVE

SEEDS = [int(s) for s in os.environ.get("MLX_BENCH_SEEDS", "1,2,3,4,5").split(",")]
TRIALS = int(os.environ.get("MLX_BENCH_TRIALS", "6"))
PARALLEL = [int(p) for p in os.environ.get("MLX_BENCH_PARALLEL", "1,2").split(",")]


def fields(provider: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if provider == "sagemaker":
        from mlx.backends.sagemaker.runner import SandboxImage
        from tests.backends.sagemaker.conftest import IMAGE, SETTINGS

        request.getfixturevalue("sm").execute_jobs(SandboxImage(toolkit=False))
        return {"image": IMAGE, "sagemaker": dict(SETTINGS)}
    if provider == "vertex":
        from tests.backends.vertex.conftest import IMAGE, SETTINGS

        request.getfixturevalue("gcp")
        request.getfixturevalue("vertex_runs")
        return {"image": IMAGE, "vertex": dict(SETTINGS)}
    from mlx.runner.sandbox import SandboxRuntime
    from tests.backends.azure.conftest import IMAGE, SETTINGS

    azure = request.getfixturevalue("azure")
    tmp = request.getfixturevalue("tmp_path")
    azure.server.execute_jobs(SandboxRuntime(tmp / "sandbox"), tmp / "runs")
    return {"image": IMAGE, "azure": dict(SETTINGS)}


def spec(root: Path, provider: str, extra: dict[str, Any], seed: int, parallel: int) -> Path:
    write(root / "code" / "objective.py", OBJECTIVE)
    doc = {
        "name": "bench",
        "provider": provider,
        "command": "python objective.py",
        "code": "./code",
        "metrics": [{"name": "loss"}],
        "tune": {
            "engine": "mlx",
            "objective": {"metric": "loss", "goal": "minimize"},
            "algorithm": "bayesian",
            "seed": seed,
            "max_trials": TRIALS,
            "parallel_trials": parallel,
            "parameters": {"x": {"type": "float", "min": 0.0, "max": 1.0}},
        },
        **extra,
    }
    return write(root / f"{provider}-{seed}-{parallel}.yaml", yaml.safe_dump(doc))


@pytest.mark.parametrize("provider", ["sagemaker", "vertex", "azure"])
def test_engine_against_local(provider: str, mlx: Any, request: Any, tmp_path: Path) -> None:
    extra = fields(provider, request)
    out = Path(os.environ["MLX_BENCH_OUT"])
    for parallel in PARALLEL:
        for seed in SEEDS:
            path = spec(tmp_path, provider, extra, seed, parallel)
            for where in ("local", provider):
                started = time.monotonic()
                result = mlx("tune", path, "-p", where, "--json")
                seconds = time.monotonic() - started
                assert result.exit_code == 0, result.stderr
                study = json.loads(result.stdout)
                row = {
                    "provider": where,
                    "cloud": provider,
                    "seed": seed,
                    "parallel": parallel,
                    "best": study["best"]["objective"],
                    "params": [t["params"]["x"] for t in study["trials"]],
                    "seconds": seconds,
                }
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
