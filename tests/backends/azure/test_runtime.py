"""The bootstrap on Azure ML: substituted options folded back, values decoded as the spec's,
one reporting process, and MLflow reporting (or one clear line without MLflow)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from mlx.backends.azure.in_job import adapt, apply_placed, sweep_value, trial_command
from mlx.bootstrap_package import bootstrap_path
from mlx.runtime import bootstrap
from tests.conftest import write

PY38 = Path.home() / ".pyenv" / "versions" / "3.8.18" / "bin" / "python"
SPACE = {
    "lr": {"key": "lr", "type": "float", "min": 1e-5, "max": 1e-2},
    "log-lr": {"key": "log_lr", "type": "float", "encoding": "exp", "min": 1e-5, "max": 1e-2},
    "depth": {"key": "depth", "type": "int", "min": 1, "max": 4},
    "hidden": {"key": "hidden", "type": "int", "encoding": "exp", "min": 16, "max": 1024},
    "batch": {"key": "batch", "type": "discrete", "values": [32, 64]},
    "opt": {"key": "opt", "type": "choice", "values": ["sgd", "adam"]},
    "odd": {"key": "odd", "type": "choice", "encoding": "index", "values": ["a b", True, 3]},
}


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("lr", "0.001", 0.001),
        ("log-lr", "-6.907755278982137", 0.001),
        ("log-lr", "-11.512925464970229", 1e-5),  # exp(ln x) is clamped into [min, max]
        ("depth", "3.0", 3),
        ("depth", "2", 2),
        ("hidden", "4.1588830833596715", 64),
        ("batch", "64", 64),
        ("opt", "adam", "adam"),
        ("odd", "1", True),
        ("odd", "0.0", "a b"),
    ],
)
def test_sweep_values_decode_to_the_spec_values(name: str, raw: str, value: Any) -> None:
    decoded = sweep_value(SPACE[name], raw)
    assert decoded == pytest.approx(value) and type(decoded) is type(value)


def test_placed_options_fold_into_the_config_in_search_space_order() -> None:
    config = {"hyperparameters": {"depth": 9, "amp": True}, "search_space": SPACE, "inputs": {}}
    placed = [
        ("input", "train", "/mnt/train"),
        ("output", "model", "/mnt/out/model"),
        ("hp", "opt", "sgd"),
        ("hp", "depth", "2.0"),
    ]
    folded = apply_placed(config, placed)
    assert folded["inputs"] == {"train": "/mnt/train"}
    assert folded["model_dir"] == "/mnt/out/model"
    assert folded["hyperparameters"] == {"depth": 2, "amp": True, "opt": "sgd"}
    assert list(folded["hyperparameters"]) == ["depth", "amp", "opt"]


def test_a_trial_renders_its_hyperparameters_again_with_the_decoded_values() -> None:
    config = {"hyperparameters": {"depth": 9, "amp": True}, "search_space": SPACE}
    config["hyperparameters_at"] = 2
    folded = apply_placed(config, [("hp", "odd", "0"), ("hp", "depth", "2.0")])
    # As Azure substituted its encodings into the words the trial command shows:
    command = ["python", "t.py", "--depth", "2.0", "--amp", "--odd", "0"]
    assert trial_command(folded, command) == [
        *("python", "t.py", "--depth", "2", "--amp", "--odd", "a b"),
    ]
    # A command job's words are the job's own (Studio may have edited them).
    assert trial_command({**config, "search_space": {}}, command) == command
    assert trial_command({"hyperparameters": {"depth": 9}}, command) == command


@pytest.mark.parametrize(
    "argv",
    [
        ["--config-env", "X", "--input", "no-equals", "--", "python"],
        ["--config-env", "X", "--bogus", "a=b", "--", "python"],
        ["--config-env", "X", "--input", "--", "python"],
        ["--input", "a=b", "--config", "c.json", "--", "python"],
    ],
)
def test_bad_bootstrap_options_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit, match="usage: bootstrap"):
        bootstrap._parse_args(argv)


def test_node_rank_from_azure_and_only_process_0_reports() -> None:
    config = {"provider": "azure", "report": "azure", "num_nodes": 2}
    assert adapt(config, {"NODE_RANK": "1", "RANK": "3"}) == {
        "provider": "azure",
        "num_nodes": 2,
        "node_rank": 1,
    }
    assert adapt(config, {"NODE_RANK": "0", "RANK": "0"})["report"] == "azure"


def _config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": "az-1",
        "provider": "azure",
        "adapter": "mlx.backends.azure.in_job",
        "model_dir": str(tmp_path / "model"),
        "checkpoint_dir": str(tmp_path / "ckpt"),
        "output_dir": str(tmp_path / "out"),
        "metrics": [{"name": "val_loss", "regex": r"val_loss=([0-9.]+)"}],
        "report": "azure",
        **extra,
    }


def test_metrics_go_to_mlflow_when_the_image_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    logged: list[tuple[Any, ...]] = []
    fake = types.ModuleType("mlflow")
    fake.log_metric = lambda name, value, step=0: logged.append((name, value, step))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    # mlflow reaches Azure ML through Azure's plugin; without it, the REST API is used.
    monkeypatch.setitem(sys.modules, "azureml", types.ModuleType("azureml"))
    monkeypatch.setitem(sys.modules, "azureml.mlflow", types.ModuleType("azureml.mlflow"))
    script = "print('epoch=1 val_loss=0.5'); print('epoch=2 val_loss=0.25')"
    config = _config(tmp_path, objective="val_loss")
    code = bootstrap.run(config, [sys.executable, "-c", script], {"RANK": "0"})
    assert code == 0
    assert logged == [("val_loss", 0.5, 1), ("val_loss", 0.25, 2)]
    assert "[mlx]" not in capfd.readouterr().err


def test_without_mlflow_one_clear_line_says_the_sweep_cannot_see_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` raises ImportError
    config = _config(tmp_path, objective="val_loss")
    assert bootstrap.run(config, [sys.executable, "-c", "print('val_loss=1')"], {}) == 0
    err = capfd.readouterr().err
    assert err.count("[mlx] ") == 1
    assert (
        "[mlx] mlflow is not installed in this image, so the sweep cannot see the objective "
        "'val_loss'; add mlflow and azureml-mlflow to the image"
    ) in err
    # Other processes of the job say nothing: only process 0 reports.
    assert bootstrap.run(config, [sys.executable, "-c", "pass"], {"RANK": "2"}) == 0
    assert "[mlx]" not in capfd.readouterr().err


@pytest.mark.skipif(
    not PY38.exists() and not shutil.which("python3.8"), reason="no Python 3.8 on this machine"
)
def test_the_azure_form_runs_on_python_38(tmp_path: Path) -> None:
    python = str(PY38) if PY38.exists() else str(shutil.which("python3.8"))
    script = write(
        tmp_path / "echo.py",
        "import json, os, sys\n"
        "print(json.dumps([sys.argv[1:], os.environ['MLX_INPUT_TRAIN'], "
        "os.environ['MLX_MODEL_DIR']]))\n",
    )
    config = _config(tmp_path, hyperparameters={"lr": 0.1}, search_space={"opt": SPACE["odd"]})
    config.pop("report")
    out = subprocess.run(
        [
            python,
            str(bootstrap_path(tmp_path / "cache")),
            "--config-env",
            "MLX_RUNTIME_CONFIG",
            "--input",
            "train=/mnt/train data",
            "--output",
            f"model={tmp_path / 'm'}",
            "--hp",
            "opt=0",
            "--",
            python,
            str(script),
        ],
        env={"MLX_RUNTIME_CONFIG": json.dumps(config), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    argv, train, model = json.loads(out.stdout)
    assert argv == ["--lr", "0.1", "--opt", "a b"]
    assert (train, model) == ("/mnt/train data", str(tmp_path / "m"))
