"""Startup speed is a feature: the CLI module must not import cloud SDKs or heavy deps."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO, subprocess_env

HEAVY = {
    "boto3",
    "botocore",
    "google",
    "azure",
    "optuna",
    "grpc",
    "pydantic",
    "yaml",
    "sqlite3",
    "sagemaker",
}


# Modules the interpreter had before mlx was imported (a namespace-package .pth file may
# load the empty `google` package at startup) do not count against mlx.
_NEW_MODULES = "sys.modules.keys() - _before"


def _top_level_modules_loaded_by(statements: str) -> set[str]:
    code = (
        "import sys, json\n_before = set(sys.modules)\n" + statements + "\n"
        "print('\\n' + json.dumps(sorted({m.split('.')[0] for m in " + _NEW_MODULES + "})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(COLUMNS="100"),
        cwd=REPO,
    )
    return set(json.loads(out.stdout.rstrip().rpartition("\n")[2]))


def test_importing_the_cli_loads_no_sdk() -> None:
    assert _top_level_modules_loaded_by("import mlx.cli") & HEAVY == set()


def test_help_loads_no_sdk_and_lists_commands() -> None:
    statements = "from mlx.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass"
    assert _top_level_modules_loaded_by(statements) & HEAVY == set()
    help_text = subprocess.run(
        [sys.executable, "-m", "mlx", "--help"],
        capture_output=True,
        text=True,
        env=subprocess_env(COLUMNS="100"),
        cwd=REPO,
    ).stdout
    for command in (
        "train",
        "logs",
        "pull-artifacts",
        "jobs",
        "status",
        "cancel",
        "translate",
        "price",
        "schema",
        "doctor",
    ):
        assert command in help_text


def test_version(mlx) -> None:
    from mlx import __version__

    result = mlx("--version")
    assert (result.exit_code, result.stdout) == (0, f"mlx {__version__}\n")


def test_doctor_reports_without_network(mlx) -> None:
    result = mlx("doctor", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert set(report["providers"]) == {"sagemaker", "vertex", "azure", "tune"}
    assert all("sdk_installed" in p for p in report["providers"].values())


def test_errors_are_shown_without_click_installed(tmp_path) -> None:
    """Newer Typer vendors Click; mlx must not need the `click` package itself."""
    code = (
        "import sys; sys.modules['click'] = None\n"
        "sys.argv = ['mlx', 'train', 'missing.yaml']\n"
        "from mlx.cli import main\nmain()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: spec file 'missing.yaml' not found")


def test_doctor_finds_no_aws_credentials_in_an_empty_credentials_file(
    mlx, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    empty = tmp_path / "credentials"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    report = json.loads(mlx("doctor", "--json").stdout)
    assert report["providers"]["sagemaker"]["credentials"] is None
    empty.write_text("[default]\naws_access_key_id = AKIA...\naws_secret_access_key = x\n")
    report = json.loads(mlx("doctor", "--json").stdout)
    assert report["providers"]["sagemaker"]["credentials"] == str(empty)
