"""`compat: sagemaker` on local: a SageMaker bring-your-own container's script, unchanged,
runs in the platform runner's sandbox with /opt/ml bound to a folder of the job's; the spec
rules of an empty command; the layout the bootstrap makes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlx.runtime import compat_sagemaker
from tests.backends.contract import started
from tests.fixtures import mantisai

pytestmark = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")


def job_dir(job: str) -> Path:
    return Path(os.environ["MLX_HOME"]) / "jobs" / job


def test_mantisai_entrypoint_runs_unchanged_on_local(mlx: Any, tmp_path: Path) -> None:
    spec = mantisai.project(tmp_path, provider="local", compat="sagemaker")
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert mantisai.PRINTED in result.stdout  # what it read from hyperparameters.json
    job = started(result.stderr)
    mantisai.assert_trained(mantisai.pulled_model(mlx, job, tmp_path / "pulled"))
    # The layout is the job's own; the machine's /opt/ml was never touched.
    ml = job_dir(job) / "opt-ml" / "node-0"
    config = json.loads((ml / "input/config/hyperparameters.json").read_text())
    assert config == {"min_df": "1", "max_ngrams": "2", "loss": "log", "learning_rate": "0.01"}
    assert (ml / "input/data/train/movie.csv").read_text().startswith("text,label")
    assert not Path("/opt/ml/model/model.pkl").exists()


def test_an_empty_command_runs_train_from_path(
    mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the image installs it (MantisAI's Dockerfile: COPY it to /usr/bin/train)."""
    spec = mantisai.project(tmp_path, provider="local", compat="sagemaker", command=[])
    refused = mlx("train", spec)
    assert refused.exit_code == 1
    assert "`command` is empty, so the job runs `train`" in refused.stderr
    assert "no `train` on this machine's PATH" in refused.stderr
    image_bin = tmp_path / "image-bin"
    shutil.copytree(tmp_path / "project" / "code", image_bin)
    (image_bin / mantisai.SCRIPT).rename(image_bin / "train")
    (image_bin / "train").chmod(0o755)
    monkeypatch.setenv("PATH", f"{image_bin}{os.pathsep}{os.environ['PATH']}")
    result = mlx("train", spec)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert mantisai.PRINTED in result.stdout


def test_hyperparameters_reach_the_script_through_the_file_only(mlx: Any, tmp_path: Path) -> None:
    """SageMaker passes a BYO container no arguments: neither does compat mode."""
    spec = mantisai.project(tmp_path, provider="local", compat="sagemaker")
    rendered = mlx("translate", spec, "--json")
    assert rendered.exit_code == 0, rendered.stderr
    request = json.loads(rendered.stdout)["request"]
    assert request["argv"] == ["python", mantisai.SCRIPT]
    assert request["runtime"]["compat"] == "sagemaker"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"command": []}, "`command`: must not be empty (only `compat: sagemaker`"),
        (
            {
                "compat": "sagemaker",
                "metrics": [{"name": "loss"}],
                "tune": {
                    "objective": {"metric": "loss"},
                    "parameters": {"min_df": {"type": "int", "min": 1, "max": 3}},
                },
            },
            "`compat: sagemaker` runs training jobs",
        ),
        ({"compat": "azure"}, "`compat`"),
    ],
)
def test_spec_rules(mlx: Any, tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    result = mlx("translate", mantisai.project(tmp_path, provider="local", **fields))
    assert result.exit_code == 1
    assert message in result.stderr


def test_the_schema_shows_compat(mlx: Any) -> None:
    schema = json.loads(mlx("schema").stdout)
    assert "sagemaker" in json.dumps(schema["properties"]["compat"])


def test_plain_strings_as_sagemaker_shows_them() -> None:
    values = {"lr": 0.01, "layers": [64, 32], "amp": True, "off": False, "flag": None, "n": 3}
    assert compat_sagemaker.plain_hyperparameters(values) == {
        "lr": "0.01",
        "layers": "[64, 32]",
        "amp": "true",
        "off": "false",
        "flag": "",
        "n": "3",
    }


def test_the_layout_links_a_folder_input_and_refuses_a_folder_with_files(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    (data / "part-0.csv").parent.mkdir()
    (data / "part-0.csv").write_text("x\n")
    outputs = {k: str(tmp_path / k) for k in ("model_dir", "output_dir", "checkpoint_dir")}
    config = {"inputs": {"train": str(data)}, "hyperparameters": {"a": 1}, **outputs}
    root = tmp_path / "ml"
    compat_sagemaker.lay_out(config, str(root))
    compat_sagemaker.lay_out(config, str(root))  # again: the same tree
    assert (root / "input/data/train/part-0.csv").read_text() == "x\n"
    assert os.readlink(root / "model") == outputs["model_dir"]
    assert os.readlink(root / "output/data") == outputs["output_dir"]
    resources = json.loads((root / "input/config/resourceconfig.json").read_text())
    assert resources == {"current_host": "algo-1", "hosts": ["algo-1"]}
    second = tmp_path / "node-1"
    compat_sagemaker.lay_out({**config, "num_nodes": 2, "node_rank": 1}, str(second))
    resources = json.loads((second / "input/config/resourceconfig.json").read_text())
    assert resources == {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}
    os.unlink(root / "model")
    (root / "model").mkdir()
    (root / "model" / "shipped.bin").write_text("image")
    with pytest.raises(compat_sagemaker.CompatError, match="already holds files"):
        compat_sagemaker.lay_out(config, str(root))
