"""The CLI's rough edges (issue #17, items 2, 9, 10): help without Python types and with
examples, `-n` for `jobs`, `--profile` where a job is looked up, sizes in the progress
bar's units, one-line errors for a missing SDK, an ECR image suggested for SageMaker."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, write


def commands() -> list[str]:
    import typer.main

    from mlx.cli import app

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", commands())
def test_every_help_has_examples_and_no_python_types(mlx: Any, command: str) -> None:
    result = mlx(command, "--help")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "Examples:" in text and f"mlx {command}" in text.split("Examples:")[1]
    assert "list[" not in text
    assert_no_python_types(text)


def assert_no_python_types(text: str) -> None:
    """Every option shows a metavar or nothing (``--help`` and the completion flags too)."""
    for line in text.splitlines():
        if "--" in line:
            assert not re.search(r"<(str|int|float|path|bool|int range|float range)>", line), line


def test_the_top_level_help_shows_no_python_types(mlx: Any) -> None:
    result = mlx("--help")
    assert result.exit_code == 0, result.stderr
    assert "--install-completion" in result.stdout
    assert_no_python_types(result.stdout)


def test_set_reads_key_value_in_help(mlx: Any) -> None:
    line = next(x for x in mlx("train", "--help").stdout.splitlines() if "--set" in x)
    assert "KEY=VALUE" in line


def test_jobs_takes_n_for_its_limit(mlx: Any, tmp_path: Path) -> None:
    write(tmp_path / "hello.py", "print('hi')\n")
    spec = write(tmp_path / "job.yaml", "name: n\ncommand: python hello.py\n")
    for _ in range(3):
        assert mlx("train", spec, "--detach").exit_code == 0
    listed = mlx("jobs", "-n", "2", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 2


def test_profile_picks_the_config_profile_a_lookup_uses(
    mlx: Any, tmp_path: Path, monkeypatch
) -> None:
    config = write(
        tmp_path / "config.yaml", "profiles:\n  prod: {sagemaker: {region: eu-west-1}}\n"
    )
    monkeypatch.setenv("MLX_CONFIG", str(config))
    monkeypatch.setenv("MLX_PROFILE", "")  # --profile sets it: restored after the test
    # An unknown profile is named, so --profile is read (before any job is looked up).
    result = mlx("status", "sagemaker:some-job", "--profile", "staging")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {config}: no profile 'staging' (profiles: prod)")


def test_listed_sizes_use_the_progress_bars_units(mlx: Any, tmp_path: Path) -> None:
    write(
        tmp_path / "big.py",
        "import os\nd = os.environ['MLX_MODEL_DIR']\n"
        "open(os.path.join(d, 'weights.bin'), 'wb').write(b'x' * 1_500_000)\n",
    )
    spec = write(tmp_path / "job.yaml", "name: sizes\ncommand: python big.py\n")
    assert mlx("train", spec).exit_code == 0
    job = json.loads(mlx("jobs", "--json").stdout)[0]["id"]
    listed = mlx("pull-artifacts", job, "--list").stdout
    row = next(line for line in listed.splitlines() if "weights.bin" in line)
    # rich.progress.DownloadColumn counts 1 MB = 1000 kB (MiB would read 1.4 MB).
    assert row.split()[-2:] == ["1.5", "MB"]


def test_a_missing_sdk_is_one_line_with_the_extra(mlx: Any, tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("google.cloud") else real(name, *a),
    )
    write(tmp_path / "hello.py", "print('hi')\n")
    spec = write(
        tmp_path / "job.yaml",
        "name: sdk\nimage: python:3.11-slim\ncommand: python hello.py\n"
        "vertex: {project: p, bucket: gs://b}\n",
    )
    result = mlx("train", spec, "-p", "vertex")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: the vertex backend needs google.cloud.aiplatform_v1, which is not installed",
        "Hint: pip install 'mlx-jobs[vertex]'",
    ]


def test_sagemaker_without_an_image_suggests_one_in_ecr(mlx: Any, tmp_path: Path) -> None:
    spec = write(
        tmp_path / "job.yaml",
        "name: noimage\ncommand: python x.py\nsagemaker: {role: arn:aws:iam::123456789012:"
        "role/R, bucket: b, region: us-east-1}\n",
    )
    result = mlx("translate", spec, "-p", "sagemaker")
    assert result.exit_code == 1
    hint = result.stderr.splitlines()[-1]
    assert hint.startswith("Hint: Set `image:` to an image in Amazon ECR")
    assert re.search(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/", hint)
    assert "python:3.11-slim" not in hint  # SageMaker cannot pull it


def test_typer_is_bounded_below_its_next_major() -> None:
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is Python 3.11+")
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (typer,) = [d for d in deps if d.startswith("typer")]
    assert re.fullmatch(r"typer>=[\d.]+,<1", typer)
