"""The spec's (and the config file's) ``local:`` block."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from mlx.spec_base import StrictModel

if TYPE_CHECKING:
    from mlx.spec import JobSpec


class LocalSettings(StrictModel):
    """How jobs run on this machine."""

    isolated: bool = Field(
        False,
        description="install code's requirements.txt into a virtual environment of the "
        "job's own (`mlx train --isolated`); otherwise nothing is installed and a missing "
        "requirement is a warning",
    )


def settings_of(spec: JobSpec) -> LocalSettings:
    found = spec.provider_settings("local")
    return found if isinstance(found, LocalSettings) else LocalSettings()
