"""The config file's provider blocks, checked by the same strict pydantic models as the
spec's (each provider's settings model: unknown keys and wrong types are errors), and
blamed on the config file, with its line, not on the spec it is merged into.

Commands that reach jobs mlx did not launch (``sagemaker:<name>``, ``--remote``) read their
settings from the config file alone: ``settings_block``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from mlx.errors import SpecError


def check_config(config: dict[str, Any]) -> None:
    """The config file holds ``provider``, ``profiles`` and provider blocks only: a typo
    (``sagemker:``) is named with the file, not silently dropped (a "required" error about
    the block it meant would follow, blaming the wrong place); and each block is valid."""
    import difflib

    from mlx import providers
    from mlx.settings import config_path

    allowed = ("provider", *(p.name for p in providers.providers() if p.settings))
    for key in config:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            guess = f"; did you mean `{close[0]}`?" if close else ""
            raise SpecError(
                f"{config_path()}: unknown key `{key}`{guess}",
                hint=f"The config file takes: {', '.join(allowed)} and profiles.",
            )
    check_blocks(config)


def check_blocks(config: dict[str, Any], profile: Optional[str] = None) -> None:
    """Validate each provider block of ``config`` (the file merged with its profile)."""
    from pydantic import ValidationError

    from mlx import providers

    for provider in providers.providers():
        block = config.get(provider.name)
        model = provider.settings_model()
        if block is None or model is None:
            continue
        try:
            model.model_validate(block)
        except ValidationError as e:
            raise _error(e, provider.name, profile or _env_profile()) from None


def settings_block(name: str) -> Any:
    """Provider ``name``'s settings from the config file (the active profile merged),
    validated: its model's defaults where the file says nothing."""
    from mlx import providers
    from mlx.settings import load_config

    config = load_config()
    check_config(config)
    model = providers.get(name).settings_model()
    return model.model_validate(config.get(name) or {}) if model else None


def _env_profile() -> Optional[str]:
    import os

    return os.environ.get("MLX_PROFILE") or None


def _error(error: Any, name: str, profile: Optional[str]) -> SpecError:
    """One line: the config file and line, the field, what is wrong; a did-you-mean for an
    unknown key."""
    import difflib

    from mlx import providers

    item = error.errors(include_url=False)[0]
    loc = tuple(str(part) for part in item["loc"])
    field = ".".join((name, *loc))
    text = str(item["msg"]).rstrip(".")
    if item["type"] == "extra_forbidden":
        model = providers.get(name).settings_model()
        known = list(model.model_fields) if model else []
        close = difflib.get_close_matches(loc[-1], known, n=1)
        text = "unknown key" + (f"; did you mean `{name}.{close[0]}`?" if close else "")
    return SpecError(
        f"{_where(name, loc, profile)}: `{field}`: {text[:1].lower() + text[1:]}",
        hint="The config file's provider blocks take the spec's fields; `mlx schema` lists them.",
    )


def _where(name: str, loc: tuple[str, ...], profile: Optional[str]) -> str:
    """``config.yaml:LINE`` of the field: in the profile's block if it has one there."""
    from mlx.settings import config_path
    from mlx.yamlfile import load_yaml

    path: Path = config_path()
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SpecError):
        return str(path)
    paths = [(name, *loc)]
    if profile:
        paths.insert(0, ("profiles", profile, name, *loc))
    for candidate in paths:
        if candidate in doc.lines or candidate[:-1] in doc.lines:
            return doc.where(candidate)
    return str(path)
