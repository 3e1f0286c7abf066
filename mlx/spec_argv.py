"""Checks of what becomes the script's argv, once a spec has loaded: the placeholders in
``command``, ``args`` and hyperparameter values (``mlx.runtime.placeholders``) and
``bool_style``. Each failure is one ``SpecError`` naming the file and line (or the ``--set``)
and the field, as ``args[2]`` or ``hyperparameters.data-path``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from mlx.errors import SpecError
from mlx.runtime.placeholders import (
    known_names,
    names_in,
    resolve_hyperparameters,
    resolve_words,
)

if TYPE_CHECKING:
    from mlx.spec import JobSpec

Where = tuple[Any, ...]  # a field's path in the YAML document


def check_argv_fields(spec: JobSpec, doc: Any, overridden: dict[tuple[str, ...], str]) -> None:
    check_placeholders(spec, doc, overridden)
    check_bool_style(spec, doc, overridden)


def texts(spec: JobSpec) -> Iterator[tuple[Where, str, str]]:
    """``(path, field, text)`` of every text that may hold a placeholder."""
    if isinstance(spec.command, str):
        yield ("command",), "command", spec.command
    else:
        for i, word in enumerate(spec.command):
            yield ("command", i), f"command[{i}]", word
    for i, arg in enumerate(spec.args):
        yield ("args", i), f"args[{i}]", arg
    for key, value in spec.hyperparameters.items():
        yield from _values(("hyperparameters", key), f"hyperparameters.{key}", value)
    for key, param in (spec.tune.parameters if spec.tune else {}).items():
        path = ("tune", "parameters", key, "values")
        yield from _values(path, f"tune.parameters.{key}.values", param.values or [])


def _values(path: Where, field: str, value: Any) -> Iterator[tuple[Where, str, str]]:
    if isinstance(value, str):
        yield path, field, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield (*path, i), f"{field}[{i}]", item


def check_placeholders(spec: JobSpec, doc: Any, overridden: dict[tuple[str, ...], str]) -> None:
    """Every ``${{...}}`` names an input of the spec, an output (model, checkpoints, output)
    or ``name``: anything else would reach the script as written."""
    known = known_names(spec.inputs)
    for path, field, text in texts(spec):
        for name in names_in(text):
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            guess = f"; did you mean ${{{{{close[0]}}}}}?" if close else ""
            raise SpecError(
                f"{_where(path, doc, overridden)}: `{field}`: unknown placeholder "
                f"${{{{{name}}}}}{guess}",
                hint="Placeholders here: " + ", ".join("${{%s}}" % k for k in known) + ".",
            )


def check_bool_style(spec: JobSpec, doc: Any, overridden: dict[tuple[str, ...], str]) -> None:
    """A ``bool_style`` mapping names hyperparameters (static or tuned); ``value`` is for
    ``args_style: flags``: Hydra reads ``key=true`` itself."""
    style = spec.bool_style
    styles = style.values() if isinstance(style, dict) else [style]
    if spec.args_style == "hydra" and "value" in styles:
        raise SpecError(
            f"{_where(('bool_style',), doc, overridden)}: `bool_style`: `value` applies to "
            "`args_style: flags`; Hydra reads key=true and key=false as booleans itself",
            hint="Remove `bool_style`: with `args_style: hydra` booleans are key=true/false.",
        )
    if not isinstance(style, dict):
        return
    names = [*spec.hyperparameters, *(spec.tune.parameters if spec.tune else {})]
    for key in style:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            guess = f"; did you mean `{close[0]}`?" if close else ""
            raise SpecError(
                f"{_where(('bool_style', key), doc, overridden)}: `bool_style.{key}` names no "
                f"hyperparameter{guess}",
                hint="Its keys are names under `hyperparameters` or `tune.parameters`.",
            )


def resolved(spec: JobSpec, values: Mapping[str, str]) -> JobSpec:
    """A copy of ``spec`` whose command, ``args`` and hyperparameters have the placeholders
    ``values`` knows resolved: what a provider knows when it renders the request, so the
    request (and ``mlx translate``) shows the paths; the bootstrap resolves the rest."""
    update: dict[str, Any] = {
        "args": resolve_words(spec.args, values),
        "hyperparameters": resolve_hyperparameters(spec.hyperparameters, values),
    }
    command = spec.command_argv()
    if any(names_in(word) for word in command):
        # As a list: a resolved path may hold spaces, which a command string would split.
        update["command"] = resolve_words(command, values)
    return spec.model_copy(update=update)


def _where(path: Where, doc: Any, overridden: dict[tuple[str, ...], str]) -> str:
    """The file and line of ``path``, or the ``--set`` that gave it."""
    given = [flag for key, flag in overridden.items() if tuple(path[: len(key)]) == key]
    return given[-1] if given else str(doc.where(path))
