"""How ``--help`` looks, whatever Typer release renders it.

Typer 0.2x prints an option's Python type in the value column (``<bool>``) when the option
has no metavar; mlx gives its own flags an empty metavar, but ``--help`` and the completion
flags are Typer's. A flag takes no value, so these command classes give every flag that has
no metavar an empty one: one rule for all of them, on every command.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup


def _without_flag_types(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if getattr(param, "param_type_name", "") == "argument" and param.nargs != 1:
            # An argument taken many times (`JOB...`): Typer 0.2x shows `<list[str]>`.
            param.display_type_rich = lambda ctx: None
    return params


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _without_flag_types(list(super().get_params(ctx)))


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _without_flag_types(list(super().get_params(ctx)))
