"""``mlx doctor``: which provider SDKs are installed, which credentials are found, and
whether the job store is sound (``--repair`` keeps a damaged one aside and starts anew).

Nothing here touches the network: it looks for packages with ``importlib.util.find_spec``,
and asks each installed SDK's own credential chain (botocore's session, ``google.auth.
default``, azure-identity's variables and CLI login) with every network step left out:
each provider's ``credentials.py`` says how.
"""

from __future__ import annotations

import sys
from typing import Any

from mlx import __version__
from mlx.errors import MlxError

# Optional features that are not providers, and the modules they need.
_FEATURES = {"tune": ["optuna"]}


def _sdk_entry(modules: list[str] | tuple[str, ...], extra: str | None) -> dict[str, Any]:
    from mlx.providers import installed

    missing = [m for m in modules if not installed(m)]
    return {"sdk_installed": not missing, "missing": missing, "extra": extra}


def collect() -> dict[str, Any]:
    from mlx.providers import Capability, providers
    from mlx.settings import config_path, mlx_home
    from mlx.store_check import check_store

    found: dict[str, Any] = {}
    for provider in providers():
        if provider.can(Capability.RUNS_HERE) and not provider.sdk_modules:
            continue  # built in: nothing to install, nothing to log in to
        entry = _sdk_entry(provider.sdk_modules, provider.extra)
        if provider.credentials:
            # The SDK's own chain answers; without the SDK there is nothing to ask.
            found_by_sdk = provider.find_credentials() if entry["sdk_installed"] else None
            entry["credentials"] = found_by_sdk
            entry["login_hint"] = provider.login_hint
        found[provider.name] = entry
    for name, modules in _FEATURES.items():
        found[name] = _sdk_entry(modules, name)
    return {
        "mlx_version": __version__,
        "python": sys.version.split()[0],
        "mlx_home": str(mlx_home()),
        "config_file": str(config_path()),
        "config_file_exists": config_path().is_file(),
        "store": check_store(mlx_home() / "jobs.db"),
        "providers": found,
    }


def run_repair(as_json: bool) -> None:
    """Keep a damaged store aside and start a new one; say what was kept and copied."""
    from rich.markup import escape

    from mlx.console import out, print_json
    from mlx.settings import mlx_home
    from mlx.store_check import repair_store

    report = repair_store(mlx_home() / "jobs.db")
    if as_json:
        print_json(report)
        return
    if report["kept_aside"] is None:
        out.print(f"Job store {escape(report['path'])} is sound: nothing to repair.")
        return
    out.print(f"Kept the damaged store as {escape(report['kept_aside'])}")
    out.print(f"New store {escape(report['path'])}: {report['copied']} job(s) copied")
    for item in report["lost"]:
        out.print(f"  not copied: {escape(item)}")
    if report["folders"] > report["copied"]:
        out.print(
            f"{report['folders']} local job folder(s) remain under "
            f"{escape(str(mlx_home() / 'jobs'))}; those without a row are no longer listed "
            "(their files are kept)."
        )


def run_doctor(as_json: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from mlx.console import out, print_json

    report = collect()
    if as_json:
        print_json(report)
        if not report["store"]["ok"]:
            raise MlxError(report["store"]["problem"], hint=REPAIR)
        return
    out.print(f"mlx {report['mlx_version']} on Python {report['python']}")
    _print_store(report["store"])
    exists = "" if report["config_file_exists"] else " (not present)"
    out.print(f"Config file: {escape(report['config_file'])}{exists}")
    table = Table("provider", "SDK", "credentials", box=None, header_style="bold")
    from mlx.providers import Capability, with_capability

    for provider in with_capability(Capability.RUNS_HERE):
        if provider.name not in report["providers"]:
            table.add_row(provider.name, "[green]built in[/]", "-")
    for name, entry in report["providers"].items():
        sdk = (
            "[green]installed[/]"
            if entry["sdk_installed"]
            else "[yellow]missing[/] " + escape(f"(pip install 'mlx-jobs[{entry['extra']}]')")
        )
        if "credentials" not in entry:
            creds = "-"
        elif not entry["sdk_installed"]:
            creds = "- (checked once the SDK is installed)"
        elif entry["credentials"]:
            creds = f"[green]found[/] {escape(entry['credentials'])}"
        else:
            creds = f"[yellow]none found[/] ({entry['login_hint']})"
        table.add_row(name, sdk, creds)
    out.print(table)
    if not report["store"]["ok"]:
        raise MlxError(report["store"]["problem"], hint=REPAIR)


REPAIR = "`mlx doctor --repair` moves it aside (kept, never overwritten) and starts a new store."


def _print_store(store: dict[str, Any]) -> None:
    from rich.markup import escape

    from mlx.console import out

    if not store["ok"]:
        out.print(f"Job store: {escape(store['path'])} [red]damaged[/]")
        for row in store["damaged_rows"][:10]:
            out.print(f"  damaged row {escape(row)}")
        return
    jobs = f"{store['jobs']} job(s)" if store["exists"] else "not created yet"
    out.print(f"Job store: {escape(store['path'])} ({jobs}, [green]ok[/])")
    if store["unknown_columns"]:
        out.print(f"  columns mlx ignores: {escape(', '.join(store['unknown_columns']))}")
