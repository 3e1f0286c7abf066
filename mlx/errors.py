"""The one exception family mlx raises on purpose.

Raised deep, shown once: ``cli.main`` prints ``Error: <message>`` and ``Hint: <hint>``
to stderr and exits 1. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class MlxError(Exception):
    """An error the user can act on. ``hint`` says how."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class SpecError(MlxError):
    """A bad spec file or field; the message names file, line and field path."""


class BackendUnavailable(MlxError):
    """A provider's SDK or credentials are missing."""


class BackendError(MlxError):
    """The provider rejected a call or a job could not be driven."""


class OutcomeUnknown(BackendError):
    """A create reached the provider or not: its answer was lost and the provider could not
    be asked. The job may be running; the store keeps it pending until a lookup by mlx's id
    settles it (``submissions.settle_submission``)."""


class JobNotFound(MlxError):
    """No job matches the id, prefix or ``provider:native-id`` given."""


class JobFailed(MlxError):
    """The job ended in a failed or cancelled state."""


class UsageError(MlxError):
    """A command-line value that cannot be right (an unknown ``--provider``): exit 2, as
    for the usage errors the CLI parser reports itself."""

    exit_code = 2


class Interrupted(MlxError):
    """Ctrl-C while waiting: the job keeps running; exit 130."""

    exit_code = 130
