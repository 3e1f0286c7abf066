"""Values that come back from a platform's tuner, as the spec's own values.

Standard library only (Python 3.8+): shipped in the bootstrap zipapp.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlx.runtime.argv import format_scalar


def trial_value(param: Mapping[str, Any], raw: Any) -> Any:
    """A value a tuner chose (text, or a JSON number) as the spec's type for ``param``.

    Categorical values travel as text and discrete ones as doubles: the spec's own value
    that matches is returned, so ``choice: [true, 8]`` still renders as a flag and an int.
    """
    kind = param.get("type")
    if kind == "int":
        return int(float(raw))
    if kind == "float":
        return float(raw)
    for value in param.get("values") or []:
        if kind == "discrete" and float(value) == float(raw):
            return value
        if kind == "choice" and format_scalar(value) == str(raw):
            return value
    return raw
