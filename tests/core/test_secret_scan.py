"""Credentials written as plain env values are flagged, and never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlx.secret_scan import credential_warnings
from tests.conftest import write


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WANDB_API_KEY", "0123456789abcdef"),
        ("AWS_ACCESS_KEY_ID", "AKIAABCDEFGHIJKLMNOP"),
        ("HF", "hf_" + "a" * 34),
        ("DB_PASSWORD", "correct-horse"),
        ("X", "ghp_" + "b" * 36),
        ("DATABASE_URL", "postgres://user:pass@host/db"),
        ("CACHE", "redis://:s3cr3t@cache:6379/0"),
        ("BROKER", "amqp://guest:guest@rabbit//"),
    ],
)
def test_credentials_are_flagged(name: str, value: str) -> None:
    (warning,) = credential_warnings({name: value})
    assert warning.startswith(f"`env.{name}` looks like a credential")
    assert f"secrets: {{{name}: env:{name}}}" in warning
    assert value not in warning


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "debug"),
        ("TOKENIZERS_PARALLELISM", "false"),
        ("AUTH_MODE", "none"),
        ("DATA_DIR", "/data/train"),
        ("DB", "postgres://user@host/db"),  # a user name alone is not a secret
        ("PROXY", "http://proxy:3128/a@b"),
    ],
)
def test_ordinary_values_are_not(name: str, value: str) -> None:
    assert credential_warnings({name: value}) == []


def test_translate_warns_on_stderr_without_the_value(mlx, tmp_path: Path) -> None:
    write(tmp_path / "t.py", "print(1)\n")
    spec = write(
        tmp_path / "job.yaml",
        "name: leak\ncommand: python t.py\nenv: {WANDB_API_KEY: 0123456789abcdef0123}\n",
    )
    result = mlx("translate", spec, "--json")
    assert result.exit_code == 0
    assert "Warning: `env.WANDB_API_KEY` looks like a credential" in result.stderr
    assert "0123456789abcdef0123" not in result.stderr
