"""The bootstrap as it runs inside jobs: any Python 3.8+, SageMaker's layout, signals."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlx.bootstrap_package import bootstrap_bytes, bootstrap_path, unpacked_bootstrap
from mlx.runtime.argv import encode_for_sagemaker
from mlx.runtime.bootstrap import load_hyperparameters
from mlx.runtime.contract import job_environment
from mlx.runtime.metrics import MetricParser
from mlx.spec import default_metric_regex
from tests.conftest import write

ECHO = (
    "import json, os, sys\nprint(json.dumps({'argv': sys.argv[1:], "
    "'model': os.environ['SM_MODEL_DIR'], 'rank': os.environ['MLX_NODE_RANK']}))\n"
)
PY38 = Path.home() / ".pyenv" / "versions" / "3.8.18" / "bin" / "python"


def config(tmp_path: Path, **extra: object) -> Path:
    data = {
        "job_id": "j-1",
        "model_dir": str(tmp_path / "model"),
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "output_dir": str(tmp_path / "out"),
        "hyperparameters": {"lr": 0.1, "layers": [2, 3], "amp": True},
    }
    data.update(extra)
    return write(tmp_path / "runtime.json", json.dumps(data))


def run_bootstrap(python: str, tmp_path: Path, cfg: Path) -> dict:
    script = write(tmp_path / "echo.py", ECHO)
    pyz = bootstrap_path(tmp_path / "cache")
    out = subprocess.run(
        [python, str(pyz), "--config", str(cfg), "--", python, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def test_bootstrap_zipapp_is_reproducible() -> None:
    """Two processes build the same bytes, so its SHA-256 can name it in a bucket."""
    code = (
        "import hashlib; from mlx.bootstrap_package import bootstrap_bytes; "
        "print(hashlib.sha256(bootstrap_bytes()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(digests) == 1
    assert digests.pop().strip() == hashlib.sha256(bootstrap_bytes()).hexdigest()


def test_local_jobs_run_the_zipapps_files_unpacked_and_imported_from_bytecode(
    tmp_path: Path,
) -> None:
    """Python compiles a zip's modules at every start (~25 ms of a local trial); the
    unpacked folder holds the zipapp's very files, and its modules load from bytecode."""
    folder = unpacked_bootstrap(tmp_path / "cache")
    with zipfile.ZipFile(io.BytesIO(bootstrap_bytes())) as archive:
        for name in archive.namelist():
            assert (folder / name).read_bytes() == archive.read(name), name
    script = write(tmp_path / "echo.py", ECHO)
    cfg = config(tmp_path)
    argv = [sys.executable, "-S", "-v", str(folder), "--config", str(cfg), "--", "python"]
    run = subprocess.run([*argv, str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout)["argv"][:2] == ["--lr", "0.1"]
    # `python -v` names where each module's code came from.
    loaded = [line for line in run.stderr.splitlines() if "mlx/runtime/" in line]
    assert any("code object from" in line and "bootstrap." in line for line in loaded), loaded
    assert unpacked_bootstrap(tmp_path / "cache") == folder  # made once


@pytest.mark.skipif(
    not PY38.exists() and not shutil.which("python3.8"), reason="no Python 3.8 on this machine"
)
def test_bootstrap_runs_on_python_38(tmp_path: Path) -> None:
    python = str(PY38) if PY38.exists() else shutil.which("python3.8")
    seen = run_bootstrap(str(python), tmp_path, config(tmp_path))
    assert seen == {
        "argv": ["--lr", "0.1", "--layers", "2", "--layers", "3", "--amp"],
        "model": str(tmp_path / "model"),
        "rank": "0",
    }


def test_sagemaker_tuning_layout_gives_the_same_argv_as_local(tmp_path: Path) -> None:
    """A SageMaker tuning trial: static values JSON-encoded by mlx, tuned ones plain text."""
    static = encode_for_sagemaker({"layers": [2, 3], "amp": True})
    trial = {
        "lr": "0.1",
        "_tuning_objective_metric": "val_loss",
        "sagemaker_estimator_class_name": "x",
    }
    hps_file = write(
        tmp_path / "opt/ml/input/config/hyperparameters.json", json.dumps({**static, **trial})
    )
    cfg = config(
        tmp_path,
        hyperparameters=None,
        hyperparameters_file=str(hps_file),
        hyperparameters_encoded=True,
    )
    sagemaker = run_bootstrap(sys.executable, tmp_path, cfg)
    local = run_bootstrap(sys.executable, tmp_path, config(tmp_path))
    assert sorted(sagemaker["argv"]) == sorted(local["argv"])
    assert load_hyperparameters(json.loads(cfg.read_text())) == {
        "layers": [2, 3],
        "amp": True,
        "lr": 0.1,
    }


def test_platform_values_are_kept_and_mlx_names_always_set(tmp_path: Path) -> None:
    cfg = {
        "model_dir": "/opt/ml/model",
        "checkpoint_dir": "/opt/ml/checkpoints",
        "output_dir": "/opt/ml/output/data",
        "inputs": {"train-data": "/opt/ml/input/data/x"},
        "num_nodes": 2,
        "node_rank": 1,
    }
    env = job_environment(cfg, {"AIP_MODEL_DIR": "gs://b/mlx/j/model/"})
    assert "AIP_MODEL_DIR" not in env  # the platform's own value stays
    assert env["MLX_MODEL_DIR"] == env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["MLX_INPUT_TRAIN_DATA"] == env["SM_CHANNEL_TRAIN_DATA"] == "/opt/ml/input/data/x"
    assert (env["SM_CURRENT_HOST"], env["MLX_NODE_RANK"]) == ("algo-2", "1")


def test_metric_parser_default_regex_and_steps() -> None:
    parser = MetricParser(
        [
            {"name": "loss", "regex": default_metric_regex("loss")},
            {"name": "acc", "regex": r"acc=([0-9.]+)%"},
        ]
    )
    assert parser.feed("train_loss=9 nothing") == []
    found = parser.feed("epoch=3 loss: 0.5 acc=91.5%")
    assert [(m.name, m.value, m.step) for m in found] == [("loss", 0.5, 3), ("acc", 91.5, 3)]
    assert [(m.name, m.value) for m in parser.feed("loss=1e-3")] == [("loss", 0.001)]
    assert parser.last == {"loss": 0.001, "acc": 91.5}
