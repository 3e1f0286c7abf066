"""The one rule that turns hyperparameters into command-line arguments.

Used by mlx when it renders a request and by the bootstrap inside the job, so a training
script sees the same argv on every platform.

``flags`` style (argparse):

    {"learning-rate": 0.01}   -> --learning-rate 0.01
    {"layers": [64, 32]}      -> --layers 64 --layers 32     (action="append")
    {"use-amp": True}         -> --use-amp                    (action="store_true")
    {"use-amp": False}        -> (omitted)
    {"verbose": None}         -> --verbose                    (a value-less flag)

``hydra`` style (Hydra / OmegaConf overrides):

    {"lr": 0.01, "layers": [64, 32], "amp": True, "ckpt": None}
      -> lr=0.01 layers=[64,32] amp=true ckpt=null
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

STYLES = ("flags", "hydra")

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


def render_args(hyperparameters: Mapping[str, Any], style: str = "flags") -> list[str]:
    """Render ``hyperparameters`` as argv, in the mapping's order.

    Args:
        hyperparameters: name -> scalar, list of scalars, True/False or None.
        style: ``flags`` (``--key value``) or ``hydra`` (``key=value``).

    Returns:
        The arguments to append after the command and the spec's literal ``args``.
    """
    if style not in STYLES:
        raise ValueError(f"args_style must be one of {', '.join(STYLES)}, not {style!r}")
    argv: list[str] = []
    for key, value in hyperparameters.items():
        if style == "hydra":
            argv.append(f"{key}={_hydra_value(value)}")
        elif value is True or value is None:
            argv.append(_flag(key))
        elif value is False:
            continue
        elif isinstance(value, (list, tuple)):
            for item in value:
                argv += [_flag(key), format_scalar(item)]
        else:
            argv += [_flag(key), format_scalar(value)]
    return argv


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
