"""The script's argv, written out in the job's ``command``: what Azure ML Studio shows is
what the script receives, and "edit and resubmit" keeps it.

The command ends with the command, ``args`` and the hyperparameters rendered by the one
argv rule (``mlx.runtime.argv``), each word quoted with ``shlex.quote``, so no value is ever
shell syntax (``a; rm -rf /`` stays one argument). A scalar whose text is plain (letters,
digits, ``_.+-``) becomes a literal input of the job and is referenced as
``${{inputs.<key>}}``: Azure substitutes the text of the input into the command (CLI v2
command job YAML, ``inputs.<input_name>``: "a literal value (of type number, integer,
boolean, or string)", referenced in ``command`` "using the ``${{ inputs.<input_name> }}``
expression": https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command),
and Studio lists it beside the job for editing. A value that is not plain stays quoted
text: Azure substitutes as text, and a quote in the value would end the quoting.

In a sweep's trial the searched parameters appear as ``${{search_space.<key>}}`` where the
local tuner puts them. Azure substitutes its encoding of the value there (a position, an
exponent, ``3.0`` for an int), so the bootstrap replaces the words from ``hyperparameters_at``
on with the decoded values, rendered by the same rule (``in_job.adapt_job``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

from mlx.backends.azure.expressions import bootstrap_resolves, for_azure
from mlx.backends.azure.layout import azure_keys
from mlx.runtime.argv import format_scalar, render_args
from mlx.spec import JobSpec

PLAIN = re.compile(r"^[A-Za-z0-9_.+-]+$")  # safe as bare command-line text
_SENTINEL = "\x00"  # stands for the value while the one argv rule renders its key


@dataclass(frozen=True)
class ScriptArgs:
    """The script's words (placeholders included), and the literal inputs they use."""

    words: list[str]
    literals: dict[str, str]  # Azure input key -> the value's text
    hyperparameters_at: int  # the rendered hyperparameters start at this word
    hidden: tuple[str, ...] = ()  # placeholders the bootstrap resolves (``expressions``)


def script_args(spec: JobSpec, searched: Optional[dict[str, str]] = None) -> ScriptArgs:
    """The words after the bootstrap's ``--``. ``searched``: spec name -> search-space key
    of a sweep's parameters, in the search space's order."""
    searched = searched or {}
    # A SageMaker-style container (`compat: sagemaker`) reads hyperparameters.json only.
    hps = {} if spec.compat == "sagemaker" else spec.hyperparameters
    keys = literal_keys(spec)
    # The local tuner's order: a trial's values over the static ones (a searched static
    # key keeps its place), then the other searched keys.
    order = [*hps, *(name for name in searched if name not in hps)]
    words = [*spec.command_argv(), *spec.args]
    at = len(words)
    literals: dict[str, str] = {}
    for name in order:
        placeholder = None
        if name in searched:
            placeholder = "${{search_space." + searched[name] + "}}"
        elif (text := literal_text(hps[name])) is not None:
            literals[keys[name]] = text
            placeholder = "${{inputs." + keys[name] + "}}"
        words += _words(name, hps.get(name), (spec.args_style, spec.bool_style), placeholder)
    words = for_azure(words, azure_keys(list(spec.inputs)))  # the spec's ${{inputs.x}}
    return ScriptArgs(words, literals, at, bootstrap_resolves(spec))


def literal_keys(spec: JobSpec) -> dict[str, str]:
    """Hyperparameter name -> its input key, unique among the data inputs' keys."""
    names = [*spec.inputs, *spec.hyperparameters]
    keys = azure_keys(names)  # the data inputs come first: their keys stay as they were
    return {name: keys[name] for name in spec.hyperparameters}


def literal_text(value: Any) -> Optional[str]:
    """The text of a scalar that may travel as a literal input, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    text = format_scalar(value)
    return text if PLAIN.match(text) else None


def _words(name: str, value: Any, styles: tuple[str, Any], placeholder: Optional[str]) -> list[str]:
    """``name``'s words by the one argv rule; with ``placeholder`` standing for the value."""
    if placeholder is None:
        return render_args({name: value}, *styles)
    words = render_args({name: _SENTINEL}, *styles)
    return [word.replace(_SENTINEL, placeholder) for word in words]
