"""``mlx doctor``: which provider SDKs are installed and which credentials are found.

Nothing here imports an SDK or touches the network: it looks for packages with
``importlib.util.find_spec`` and for credentials where each SDK's default chain looks.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from mlx import __version__

_SDKS = {
    "sagemaker": ["boto3"],
    "vertex": ["google.cloud.aiplatform_v1", "google.cloud.storage", "google.cloud.logging_v2"],
    "azure": ["azure.ai.ml", "azure.storage.blob", "azure.identity"],
    "tune": ["optuna"],
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package
        return False


def _aws_credentials() -> str | None:
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return "AWS_ACCESS_KEY_ID"
    if os.environ.get("AWS_PROFILE"):
        return f"AWS_PROFILE={os.environ['AWS_PROFILE']}"
    for path in (
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE"),
        "~/.aws/credentials",
        os.environ.get("AWS_CONFIG_FILE"),
        "~/.aws/config",
    ):
        if path and Path(path).expanduser().is_file():
            return str(Path(path).expanduser())
    if os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        return "container credentials"
    return None


def _gcp_credentials() -> str | None:
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        return path if Path(path).is_file() else None
    config = Path(os.environ.get("CLOUDSDK_CONFIG", "~/.config/gcloud")).expanduser()
    adc = config / "application_default_credentials.json"
    return str(adc) if adc.is_file() else None


def _azure_credentials() -> str | None:
    if os.environ.get("AZURE_CLIENT_ID") and (
        os.environ.get("AZURE_CLIENT_SECRET") or os.environ.get("AZURE_FEDERATED_TOKEN_FILE")
    ):
        return "AZURE_CLIENT_ID (service principal)"
    azure_dir = Path(os.environ.get("AZURE_CONFIG_DIR", "~/.azure")).expanduser()
    if (azure_dir / "msal_token_cache.json").is_file() or (
        azure_dir / "azureProfile.json"
    ).is_file():
        return f"Azure CLI login ({azure_dir})"
    return None


_CREDENTIALS = {
    "sagemaker": _aws_credentials,
    "vertex": _gcp_credentials,
    "azure": _azure_credentials,
}
_LOGIN_HINT = {
    "sagemaker": "aws configure (or set AWS_PROFILE)",
    "vertex": "gcloud auth application-default login",
    "azure": "az login",
}


def collect() -> dict[str, Any]:
    from mlx.settings import config_path, mlx_home

    providers = {}
    for name, modules in _SDKS.items():
        missing = [m for m in modules if not _installed(m)]
        entry: dict[str, Any] = {"sdk_installed": not missing, "missing": missing}
        if name in _CREDENTIALS:
            entry["credentials"] = _CREDENTIALS[name]()
        providers[name] = entry
    return {
        "mlx_version": __version__,
        "python": sys.version.split()[0],
        "mlx_home": str(mlx_home()),
        "config_file": str(config_path()),
        "config_file_exists": config_path().is_file(),
        "providers": providers,
    }


def run_doctor(as_json: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from mlx.console import out, print_json

    report = collect()
    if as_json:
        print_json(report)
        return
    out.print(f"mlx {report['mlx_version']} on Python {report['python']}")
    out.print(f"Job store: {escape(report['mlx_home'])}")
    exists = "" if report["config_file_exists"] else " (not present)"
    out.print(f"Config file: {escape(report['config_file'])}{exists}")
    table = Table("provider", "SDK", "credentials", box=None, header_style="bold")
    table.add_row("local", "[green]built in[/]", "-")
    for name, entry in report["providers"].items():
        sdk = (
            "[green]installed[/]"
            if entry["sdk_installed"]
            else (f"[yellow]missing[/] (pip install 'mlx-jobs[{name}]')")
        )
        if name not in _CREDENTIALS:
            creds = "-"
        elif entry["credentials"]:
            creds = f"[green]found[/] {escape(entry['credentials'])}"
        else:
            creds = f"[yellow]none found[/] ({_LOGIN_HINT[name]})"
        table.add_row(name, sdk, creds)
    out.print(table)
