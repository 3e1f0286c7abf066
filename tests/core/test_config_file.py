"""The config file's provider blocks go through the spec's strict settings models, and an
error in one names the config file and its line, not the spec it was merged into; also on
the commands that read the config file alone (``sagemaker:<name>``, ``--remote``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write

SPEC = "name: t\ncommand: python -c pass\n"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "elsewhere" / "mlx.yaml"
    monkeypatch.setenv("MLX_CONFIG", str(path))
    return path


def test_a_typo_inside_a_block_names_the_config_file_and_line(
    mlx: Any, tmp_path: Path, config: Path
) -> None:
    write(config, "provider: local\nsagemaker:\n  region: us-east-1\n  bukcet: my-bucket\n")
    spec = write(tmp_path / "job.yaml", SPEC)
    result = mlx("translate", spec, "-p", "sagemaker")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: {config}:4: `sagemaker.bukcet`: unknown key; did you mean `sagemaker.bucket`?"
    )


def test_a_wrong_type_in_a_profile_names_its_line(
    mlx: Any, tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config, "vertex:\n  location: us-central1\nprofiles:\n  dev:\n    vertex:\n"
          "      project: [a, b]\n")  # fmt: skip
    monkeypatch.setenv("MLX_PROFILE", "dev")
    result = mlx("translate", write(tmp_path / "job.yaml", SPEC), "-p", "vertex")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {config}:6: `vertex.project`: input should be a valid string"
    )


@pytest.mark.parametrize(
    "args", [("status", "sagemaker:their-job"), ("jobs", "-p", "sagemaker", "--remote")]
)
def test_commands_reading_the_config_alone_say_so_too(
    mlx: Any, config: Path, args: tuple[str, ...]
) -> None:
    write(config, "sagemaker:\n  regoin: us-east-1\n")
    result = mlx(*args)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"Error: {config}:2: `sagemaker.regoin`: unknown key; did you mean `sagemaker.region`?"
    )
