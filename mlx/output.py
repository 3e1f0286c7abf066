"""What mlx prints about jobs: the stable ``--json`` shape of a job, and a log line as
shown (node prefix, optional time)."""

from __future__ import annotations

import time
from typing import Any, Optional

from mlx.model import JobRecord, LogLine


def record_json(record: JobRecord) -> dict[str, Any]:
    """The stable ``--json`` shape of one job (``status --json``, ``jobs --json``)."""
    return {
        "id": record.id,
        "name": record.name,
        "provider": record.provider,
        "rehearsal": record.rehearsal,  # the runtime of a --rehearse job, else null
        "kind": record.kind.value,
        "state": record.state.value,
        "native_id": record.native_id,
        "message": record.message,
        "exit_code": record.exit_code,
        "metrics": record.metrics,
        "artifacts_uri": record.artifacts_uri,
        "created_at": _iso(record.created_at),
        "ended_at": _iso(record.ended_at),
        "parent_id": record.parent_id,
        "tags": dict(record.spec.get("tags") or {}),  # the spec's `tags:`
    }


def _iso(value: Optional[float]) -> Optional[str]:
    if value is None:
        return None
    # What datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="seconds") says,
    # in half the time: it runs twice per job of a 100,000-job `jobs --json`.
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(value))


def format_line(line: LogLine, multi_node: bool, timestamps: bool = False) -> str:
    prefix = ""
    if line.node is None:
        prefix = "[mlx] "
    elif line.process is not None:
        prefix = f"[node-{line.node}/proc-{line.process}] "
    elif multi_node:
        prefix = f"[node-{line.node}] "
    if timestamps:  # local time with date and zone, as `status` shows times
        from mlx.timefmt import moment

        prefix = f"{moment(line.time, millis=True)} {prefix}"
    return prefix + line.text
