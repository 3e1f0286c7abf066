"""Turning pydantic's validation errors into the one line a user can act on.

Pydantic reports paths with its own union and validator tags and messages written for
developers; users wrote YAML. This module maps each error back to the field path as written,
the file and line it came from (or the ``--set`` that caused it), a did-you-mean for unknown
keys, and a hint.
"""

from __future__ import annotations

import difflib
import typing
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from mlx.errors import SpecError


def spec_error(
    error: ValidationError,
    doc: Any,
    data: Any,
    overridden: dict[tuple[str, ...], str],
    model: type[BaseModel],
) -> SpecError:
    """One ``SpecError`` for pydantic's errors: file:line (or the ``--set`` that caused it),
    the field path as the user wrote it, and a hint."""
    problems: dict[tuple[Any, ...], list[str]] = {}
    for item in error.errors(include_url=False):
        path = _data_path(item["loc"], data)
        message = _describe(item, path, model)
        problems.setdefault(path, [])
        if message not in problems[path]:
            problems[path].append(message)
    lines = []
    hint = None
    for path, messages in problems.items():
        field = ".".join(str(p) for p in path) or "<top level>"
        origin = next((v for k, v in overridden.items() if tuple(path[: len(k)]) == k), None)
        where = f"{origin}" if origin else doc.where(path)
        text = messages[0] if len(messages) == 1 else "expected " + " or ".join(messages)
        lines.append(f"{where}: `{field}`: {text}")
        if hint is None and "did you mean" not in text:
            hint = _HINTS.get(path[-1] if path else "")
    first, rest = lines[0], lines[1:]
    if rest:
        first += f" (and {len(rest)} more: " + "; ".join(r.split(": ", 1)[1] for r in rest) + ")"
    return SpecError(first, hint=hint or "See `mlx schema` for every field and its type.")


_HINTS = {
    "nodes": "`resources.nodes` is the number of machines, 1 or more.",
    "accelerator": "Write type[:count], e.g. A100:1, T4, H100:8, or none.",
    "max_runtime": "Write a duration such as 90m, 4h or 1h30m.",
    "memory": "Write a size such as 32GB or 512MB.",
}


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Drop pydantic's union and validator tags from ``loc``, keeping real keys of ``data``."""
    path: list[Any] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and not isinstance(part, int) and _is_field_name(part):
            path.append(part)  # an unknown or missing key still names the field
            node = None
    return tuple(path)


def _is_field_name(part: Any) -> bool:
    return isinstance(part, str) and "[" not in part and not part.startswith("function-")


def _describe(item: Any, path: tuple[Any, ...], model: type[BaseModel]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return _unknown_field(path, model)
    if kind == "missing":
        return "is required"
    message = item["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    got = item.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{message[0].lower()}{message[1:]} (got {shown})"


def _unknown_field(path: tuple[Any, ...], model: type[BaseModel]) -> str:
    known = _fields_at(model, path[:-1])
    field = ".".join(str(p) for p in path)
    close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
    if close:
        suggestion = ".".join(str(p) for p in (*path[:-1], close[0]))
        return f"unknown field `{field}`; did you mean `{suggestion}`?"
    return f"unknown field `{field}` (valid here: {', '.join(known)})"


def _fields_at(model: Any, path: tuple[Any, ...]) -> list[str]:
    """Field names of the model found by following ``path`` from ``model``."""
    current = model
    parts = list(path)
    while parts:
        part = parts.pop(0)
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = info.annotation
        # Unwrap Optional[...], dict[str, X] and list[X] to the model they hold; a dict's
        # key or a list's index is the next part of the path.
        while typing.get_origin(current) in (Union, dict, list):
            if typing.get_origin(current) in (dict, list) and parts:
                parts.pop(0)
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []
