"""Placeholders in the command, ``args`` and hyperparameter values, resolved in the job.

Standard library only (Python 3.8+): shipped in the bootstrap zipapp.

The syntax is Azure ML's own expressions, which Azure users already write
(https://learn.microsoft.com/azure/machine-learning/concept-expressions: "The format for an
expression is ``${{ <expression> }}``"; ``${{inputs.<input_name>}}`` and
``${{outputs.<output_name>}}`` are client expressions that "work for all jobs", ``${{name}}``
a server expression, "the job name"). mlx gives them one meaning on every platform:

    ${{inputs.NAME}}         the input's path in the job (a file input: the file itself)
    ${{outputs.model}}       MLX_MODEL_DIR
    ${{outputs.checkpoints}} MLX_CHECKPOINT_DIR (a node's own folder in a multi-node job)
    ${{outputs.output}}      MLX_OUTPUT_DIR
    ${{name}}                the mlx job id; in a trial of a tuning job, the trial's id

A provider resolves at render time what it already knows (``mlx translate`` shows it); the
bootstrap resolves the rest from the runtime config, after the platform adapter has put the
platform's own paths there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# `${{ inputs.train }}`: Azure's documented form has no spaces; spaces inside are allowed.
PATTERN = re.compile(r"\$\{\{\s*([^{}]*?)\s*\}\}")
OUTPUT_DIRS = {"model": "model_dir", "checkpoints": "checkpoint_dir", "output": "output_dir"}
NAME = "name"


def names_in(text: str) -> list[str]:
    """The expressions in ``text``: ``--data=${{inputs.train}}`` -> ``["inputs.train"]``."""
    return [match.group(1) for match in PATTERN.finditer(text)]


def known_names(inputs: Iterable[str]) -> list[str]:
    """Every expression a spec with ``inputs`` may use."""
    return [
        *("inputs." + name for name in inputs),
        *("outputs." + kind for kind in OUTPUT_DIRS),
        NAME,
    ]


def trial_job_id(job_id: str, number: int) -> str:
    """The mlx id of trial ``number`` of tuning job ``job_id`` (``mlx.ids.trial_id``, which
    the job cannot import)."""
    return "%s-t%d" % (job_id, number)


def job_name(config: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """``${{name}}``: the job's id, or in a trial of a cloud tuning job the trial's mlx id.

    The provider names where the platform tells a trial its number
    (``trial_number_from``: an environment variable and a pattern whose group is the
    number), as each one's trial listing reads it.
    """
    job = str(config.get("job_id") or "")
    source = config.get("trial_number_from")
    if source:
        variable, pattern = source
        match = re.search(str(pattern), environ.get(str(variable), ""))
        if match:
            return trial_job_id(job, int(match.group(1)))
    return job


def values_of(config: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Expression -> text, from a runtime config the platform adapter has adapted."""
    values = {"inputs." + name: str(path) for name, path in (config.get("inputs") or {}).items()}
    for kind, key in OUTPUT_DIRS.items():
        if config.get(key):
            values["outputs." + kind] = str(config[key])
    values[NAME] = job_name(config, environ)
    return values


def resolve(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each expression ``values`` knows replaced; the others stay as written."""
    return PATTERN.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def resolve_value(value: Any, values: Mapping[str, str]) -> Any:
    """A hyperparameter's value resolved: text, or each text of a list; others unchanged."""
    if isinstance(value, str):
        return resolve(value, values)
    if isinstance(value, list):
        return [resolve_value(item, values) for item in value]
    return value


def resolve_hyperparameters(hps: Mapping[str, Any], values: Mapping[str, str]) -> dict:
    return {key: resolve_value(value, values) for key, value in hps.items()}


def resolve_words(words: Iterable[str], values: Mapping[str, str]) -> list[str]:
    return [resolve(word, values) for word in words]
