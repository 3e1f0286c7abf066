"""What to suggest after a job failed: its logs only when it has some the user has not just
read. A job whose image could not be pulled, or that never started, printed nothing:
"See its logs" would send the user to an empty page."""

from __future__ import annotations

from typing import Optional

from mlx.errors import MlxError
from mlx.model import JobRecord, LogQuery


def failure_hint(record: JobRecord, *, logs_shown: bool = False) -> Optional[str]:
    """The ``Hint:`` under a failed job's ``Error:``; ``logs_shown``: the command has just
    printed the job's logs (``mlx logs -f``), so they are not suggested again."""
    if logs_shown:
        return None
    if has_lines(record):
        return f"See its logs with `mlx logs {record.id}`."
    return f"It printed no log line; `mlx status {record.id}` shows what happened."


def has_lines(record: JobRecord) -> bool:
    """Whether the job wrote at least one log line (one small read: the last line). A
    provider that cannot be asked now, or a job whose logs are its trials', counts as
    none: the hint then points to ``status``, which always answers from the store."""
    from mlx import lifecycle

    try:
        return next(iter(lifecycle.stream_logs(record, LogQuery(tail=1))), None) is not None
    except MlxError:
        return False
