"""The one rule that turns hyperparameters into command-line arguments.

Used by mlx when it renders a request and by the bootstrap inside the job, so a training
script sees the same argv on every platform.

``flags`` style (argparse):

    {"learning-rate": 0.01}   -> --learning-rate 0.01
    {"layers": [64, 32]}      -> --layers 64 --layers 32     (action="append")
    {"use-amp": True}         -> --use-amp                    (action="store_true")
    {"use-amp": False}        -> (omitted)
    {"verbose": None}         -> --verbose                    (a value-less flag)

``bool_style`` says how ``flags`` renders a boolean: ``flag`` (above, the default) or
``value``, for scripts that parse the word (``type=strtobool``, ``type=str2bool``):

    {"use-amp": True}         -> --use-amp True
    {"use-amp": False}        -> --use-amp False

It is one style for every key, or a mapping of key -> style (keys it does not name: flag).

``hydra`` style (Hydra / OmegaConf overrides):

    {"lr": 0.01, "layers": [64, 32], "amp": True, "ckpt": None}
      -> lr=0.01 layers=[64,32] amp=true ckpt=null

Hydra reads ``true``/``false`` (any case) as booleans itself (its override grammar's
``BOOL`` token: facebookresearch/hydra, hydra/grammar/Override.g4), so ``bool_style`` does not
apply there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Union

STYLES = ("flags", "hydra")
BOOL_STYLES = ("flag", "value")
# One style, or key -> style (quoted: collections.abc.Mapping takes [] from Python 3.9).
BoolStyle = Union[str, "Mapping[str, str]"]

# Characters that make Hydra's override grammar read a string as something else.
_HYDRA_SPECIAL = set(" ,[]{}()'\"=:\\$*?")


def format_scalar(value: Any) -> str:
    """A scalar as text: ``repr`` for floats (shortest round-trip), lowercase booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _flag(key: str) -> str:
    # Keys are kept verbatim; one that already starts with "-" (e.g. "-v") is used as is.
    return key if key.startswith("-") else f"--{key}"


def _hydra_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    text = format_scalar(value)
    if isinstance(value, str) and (not text or _HYDRA_SPECIAL & set(text)):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def bool_style_of(key: str, bool_style: BoolStyle) -> str:
    """The style of boolean ``key``: the mapping's entry (``flag`` when it has none), or the
    one style given."""
    if isinstance(bool_style, Mapping):
        return str(bool_style.get(key) or "flag")
    return bool_style or "flag"


def _flags_words(key: str, value: Any, bool_style: str) -> list[str]:
    """``key``'s words in ``flags`` style."""
    if value is None or (value is True and bool_style == "flag"):
        return [_flag(key)]
    if value is False and bool_style == "flag":
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    words: list[str] = []
    for item in items:
        # `value` style spells booleans as Python does: strtobool reads True/False, and a
        # script may compare with "True".
        text = str(item) if isinstance(item, bool) and bool_style == "value" else None
        words += [_flag(key), text or format_scalar(item)]
    return words


def render_args(
    hyperparameters: Mapping[str, Any], style: str = "flags", bool_style: BoolStyle = "flag"
) -> list[str]:
    """Render ``hyperparameters`` as argv, in the mapping's order.

    Args:
        hyperparameters: name -> scalar, list of scalars, True/False or None.
        style: ``flags`` (``--key value``) or ``hydra`` (``key=value``).
        bool_style: how ``flags`` renders True/False: ``flag`` (``--key`` / omitted) or
            ``value`` (``--key True`` / ``--key False``); one style or key -> style.

    Returns:
        The arguments to append after the command and the spec's literal ``args``.
    """
    if style not in STYLES:
        raise ValueError(f"args_style must be one of {', '.join(STYLES)}, not {style!r}")
    argv: list[str] = []
    for key, value in hyperparameters.items():
        if style == "hydra":
            argv.append(f"{key}={_hydra_value(value)}")
        else:
            argv += _flags_words(key, value, bool_style_of(key, bool_style))
    return argv


def render_configured(config: Mapping[str, Any], hyperparameters: Mapping[str, Any]) -> list[str]:
    """``render_args`` with the styles a runtime config names (inside the job)."""
    return render_args(
        hyperparameters, config.get("args_style") or "flags", config.get("bool_style") or "flag"
    )


def encode_for_sagemaker(hyperparameters: Mapping[str, Any]) -> dict:
    """SageMaker only carries string values: JSON-encode each so types survive the trip."""
    return {key: json.dumps(value) for key, value in hyperparameters.items()}


def decode_from_sagemaker(raw: Mapping[str, str]) -> dict:
    """Undo ``encode_for_sagemaker``; values SageMaker's tuner chose itself are plain text."""
    decoded = {}
    for key, text in raw.items():
        try:
            decoded[key] = json.loads(text)
        except (TypeError, ValueError):
            decoded[key] = text
    return decoded
