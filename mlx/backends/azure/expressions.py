"""The spec's placeholders (``mlx.runtime.placeholders``) in an Azure ML job's command.

They are Azure ML's own expressions, so Azure substitutes most of them itself and Studio
shows them as Azure users write them: ``${{inputs.<name>}}`` becomes ``${{inputs.<key>}}``
(the job's input key: ``layout.azure_keys``), which Azure replaces with the input's mounted
path, the file itself for a ``uri_file`` input; ``${{outputs.model}}`` and the other outputs
keep their names, the job's output keys (https://learn.microsoft.com/azure/machine-learning/
concept-expressions; CLI v2 command job YAML, ``command``:
https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command).

Two are the bootstrap's to resolve, hidden from Azure by a quote break the shell undoes
(``'...$''{{name}}...'`` is the word ``...${{name}}...``): ``${{name}}``, which Azure would
make its own job name ("the job name", a server expression: for a sweep's trial
``<sweep>_<n>``, not mlx's trial id), and, in a job of several nodes,
``${{outputs.checkpoints}}``, where each node keeps its own folder (``node-<rank>``), as
``MLX_CHECKPOINT_DIR`` says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlx.runtime.placeholders import NAME, PATTERN
from mlx.spec import JobSpec


def for_azure(words: Iterable[str], input_keys: dict[str, str]) -> list[str]:
    """``words`` with each ``${{inputs.<spec name>}}`` naming the job's input key."""

    def one(match: re.Match[str]) -> str:
        kind, _, name = match.group(1).partition(".")
        if kind == "inputs" and name in input_keys:
            return "${{inputs." + input_keys[name] + "}}"
        return match.group(0)

    return [PATTERN.sub(one, word) for word in words]


def bootstrap_resolves(spec: JobSpec) -> tuple[str, ...]:
    """The expressions the bootstrap resolves in ``spec``'s job, not Azure."""
    return (NAME, "outputs.checkpoints") if spec.resources.nodes > 1 else (NAME,)


def hide(shell_text: str, names: Iterable[str]) -> str:
    """``shell_text`` (words quoted with ``shlex.quote``, so an expression, holding ``$``,
    is always inside single quotes) with the expressions ``names`` hidden from Azure."""
    hidden = set(names)

    def one(match: re.Match[str]) -> str:
        if match.group(1) not in hidden:
            return match.group(0)
        return "$''{{" + match.group(1) + "}}"

    return PATTERN.sub(one, shell_text)
