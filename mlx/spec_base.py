"""What the spec's models and every provider's settings model share: strictness (unknown
keys are errors, with a suggestion) and field rules more than one of them uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from mlx.units import parse_duration


class StrictModel(BaseModel):
    """A spec block: unknown keys are errors; defaults are validated too."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def valid_duration(value: Any) -> Any:
    """``value`` unchanged when it is None or a duration ``parse_duration`` reads."""
    if value is not None:
        parse_duration(value)
    return value
