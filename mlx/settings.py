"""Where mlx keeps its state and reads its user configuration.

Precedence for a setting: CLI flags > environment > spec > config file > defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlx.errors import SpecError

APP_NAME = "mlx"


def mlx_home() -> Path:
    """``$MLX_HOME``, or the platform's user data dir (``~/.local/share/mlx`` on Linux)."""
    env = os.environ.get("MLX_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def config_path() -> Path:
    """``$MLX_CONFIG``, or ``config.yaml`` in the platform's user config dir."""
    env = os.environ.get("MLX_CONFIG")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False) / "config.yaml"


def load_config(profile: str | None = None) -> dict[str, Any]:
    """The user config as spec-shaped defaults (provider and provider blocks).

    The file may hold top-level defaults and ``profiles: {name: {...}}``; the profile named
    by ``profile`` or ``$MLX_PROFILE`` is laid over the top level.
    """
    from mlx.yamlfile import load_yaml

    path = config_path()
    profile = profile or os.environ.get("MLX_PROFILE")
    if not path.is_file():
        if profile:
            raise SpecError(
                f"profile {profile!r} asked for, but there is no config file at {path}",
                hint="Create it, or set MLX_CONFIG to the config file's path.",
            )
        return {}
    doc = load_yaml(path.read_text(encoding="utf-8"), str(path))
    data = doc.data or {}
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the config file must be a mapping")
    profiles = data.pop("profiles", None) or {}
    if profile:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise SpecError(
                f"{path}: no profile {profile!r} (profiles: {known})",
                hint="Add it under `profiles:` or pick another with --profile/MLX_PROFILE.",
            )
        data = deep_merge(data, profiles[profile])
    return data


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
