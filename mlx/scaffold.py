"""``mlx init [SCRIPT]``: a job spec written from an existing script's argparse flags.

The script is parsed, never run (it may train for hours, or import what is not installed):
every ``.add_argument("--name", ...)`` call in its syntax tree gives a hyperparameter, its
``default`` (a literal, read with ``ast.literal_eval``) the value, converted by ``type``
where that is ``int``, ``float`` or ``str``. mlx renders hyperparameters as
``--name value`` (``true``: the bare flag, ``false``: left out), so the spec starts the
script exactly as running it without arguments would. Flags whose default cannot be known
without running the script (none, an expression, a required flag) are written commented
out, with the reason, and listed on stderr.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mlx.errors import MlxError

_CONVERT = {"int": int, "float": float, "str": str}
_FLAG_ACTIONS = {"store_true": False, "store_false": False}  # the flag left out = default


@dataclass(frozen=True)
class Flag:
    """One ``--name`` option: its value in the spec, or why it has none."""

    name: str
    value: Any = None
    missing: Optional[str] = None  # set: written commented out, with this reason
    help: Optional[str] = None


def read_flags(script: Path) -> list[Flag]:
    """The script's ``--`` options, in the order they are declared."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except (OSError, UnicodeDecodeError) as e:
        raise MlxError(f"cannot read {script}: {e}") from None
    except SyntaxError as e:
        raise MlxError(f"{script}:{e.lineno}: not valid Python ({e.msg})") from None
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _is_add_argument(n)]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    flags = [flag for call in calls if (flag := _flag(call)) is not None]
    return list({f.name: f for f in reversed(flags)}.values())[::-1]  # first one wins


def _is_add_argument(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"


def _flag(call: ast.Call) -> Optional[Flag]:
    names = [a.value for a in call.args if isinstance(a, ast.Constant)]
    long = next((n for n in names if isinstance(n, str) and n.startswith("--")), None)
    if long is None:  # a positional or a short-only option: no hyperparameter spells it
        return None
    name = long[2:]
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    text = _literal(keywords.get("help"))
    help_text = text if isinstance(text, str) else None
    action = _literal(keywords.get("action"))
    if action in _FLAG_ACTIONS:
        return Flag(name, _FLAG_ACTIONS[action], help=help_text)
    if action is not None and action != "store":
        return Flag(name, missing=f"action={action!r}", help=help_text)
    if _literal(keywords.get("required")) is True:
        return Flag(name, missing="required: give a value", help=help_text)
    if "default" not in keywords:
        return Flag(name, missing="no default", help=help_text)
    return _with_default(name, keywords, help_text)


def _with_default(name: str, keywords: dict[str, ast.expr], help_text: Optional[str]) -> Flag:
    node = keywords["default"]
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return Flag(name, missing=f"default is {ast.unparse(node)}", help=help_text)
    if value is None:
        return Flag(name, missing="default is None", help=help_text)
    type_node = keywords.get("type")
    convert = _CONVERT.get(type_node.id) if isinstance(type_node, ast.Name) else None
    try:
        if convert and isinstance(value, list):
            value = [convert(v) for v in value]
        elif convert and not isinstance(value, bool):
            value = convert(value)
    except (TypeError, ValueError):
        pass  # argparse converts only string defaults; keep what the script wrote
    if not _spec_value(value):
        return Flag(name, missing=f"default is {value!r}", help=help_text)
    if isinstance(value, list) and "nargs" in keywords:
        # mlx renders a list as the flag once per value (argparse's action="append"); a
        # flag with nargs keeps only the last of those
        return Flag(name, missing="nargs: one flag, many values", help=help_text)
    return Flag(name, value, help=help_text)


def _literal(node: Optional[ast.expr]) -> Any:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def _spec_value(value: Any) -> bool:
    """A value a spec's hyperparameter can hold (a scalar, or a list of scalars)."""
    values = value if isinstance(value, list) and value else [value]
    return all(isinstance(v, (bool, int, float, str)) for v in values)


# -- the spec file ---------------------------------------------------------------------

_STARTER_SCRIPT = "train.py"


def job_name(script: Optional[Path]) -> str:
    """A valid spec name from the script's name (``train_v2.py`` -> ``train-v2``)."""
    stem = script.stem if script else "job"
    name = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40].strip("-")
    return name or "job"


def spec_text(script: Optional[Path], output: Path) -> tuple[str, list[Flag]]:
    """The spec's YAML (with comments), and the flags it read."""
    flags = read_flags(script) if script else []
    where = script.resolve() if script else output.resolve().parent / _STARTER_SCRIPT
    code = _relative(where.parent, output.resolve().parent)
    source = f"`mlx init {script.name}`" if script else "`mlx init`"
    lines = [
        f"# Written by {source}; `mlx schema` describes every field.",
        f"name: {job_name(script)}",
        "provider: local                  # or sagemaker | vertex | azure (needs `image:`)",
        "# image: python:3.11-slim",
        f"command: python {where.name}",
        f"code: {_yaml(code)}",
    ]
    if flags:
        lines.append("hyperparameters:                 # rendered as --name value")
        lines.extend(_flag_line(flag) for flag in flags)
    lines += ["resources:", "  cpus: 1", ""]
    return "\n".join(lines), flags


def _flag_line(flag: Flag) -> str:
    comment = f"  # {' '.join(flag.help.split())}" if flag.help else ""  # one line
    if flag.missing:
        return f"  # {flag.name}:  ({flag.missing}){comment}"
    return f"  {flag.name}: {_yaml(flag.value)}{comment}"


def _yaml(value: Any) -> str:
    import yaml

    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _relative(directory: Path, base: Path) -> str:
    import os

    return Path(os.path.relpath(directory, base)).as_posix()


def write_spec(script: Optional[Path], output: Path) -> list[Flag]:
    """Write the spec to ``output`` (never over an existing file); the flags it read."""
    if script is not None and not script.is_file():
        raise MlxError(f"no script {script}", hint="Give the path of your training script.")
    text, flags = spec_text(script, output)
    if script is not None and not flags:
        raise MlxError(
            f"{script} declares no argparse options (no `add_argument('--name', ...)`)",
            hint="Run `mlx init` without a script for a starter spec.",
        )
    try:
        with open(output, "x", encoding="utf-8") as f:  # "x": never overwrite
            f.write(text)
    except FileExistsError:
        raise MlxError(
            f"{output} exists; nothing was written", hint="Choose another file with --output."
        ) from None
    except OSError as e:
        raise MlxError(f"cannot write {output}: {e.strerror or e}") from None
    return flags


def init_command(script: Optional[Path], output: Path) -> None:
    """``mlx init``: write the spec, say what was read and what to do next (stderr)."""
    from rich.markup import escape

    from mlx.console import err

    flags = write_spec(script, output)
    count = sum(1 for f in flags if not f.missing)
    read = f" with {count} hyperparameter(s) from {script}" if script else ""
    err.print(f"Wrote {escape(str(output))}{escape(read)}")
    unset = [f for f in flags if f.missing]
    if unset:
        shown = ", ".join(f"--{f.name} ({f.missing})" for f in unset)
        err.print(f"Commented out, set them if needed: {escape(shown)}")
    err.print(f"Run it with [bold]mlx train {escape(str(output))}[/]")
