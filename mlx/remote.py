"""``mlx jobs -p <cloud> --remote``: the cloud's own list of jobs, not only mlx's, newest
first, page by page up to ``--limit``; the jobs mlx knows are marked with their mlx id, so
any other one can be picked up as ``<provider>:<native id>``.

Each provider lists through its backend (``Backend.list_remote``: SageMaker
``ListTrainingJobs``, Vertex ``ListCustomJobs``, Azure ML ``jobs.list``) with the settings
of the config file's block, as ``<provider>:<id>`` lookups use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from mlx.errors import UsageError
from mlx.model import JobState


@dataclass(frozen=True)
class RemoteJob:
    """One job as the provider lists it."""

    native_id: str  # what `<provider>:<native id>` takes
    name: str
    state: JobState
    created_at: Optional[float]
    full_id: Optional[str] = None  # the provider's longer name where it has one (Vertex)


def list_remote_command(store: Any, provider: Optional[str], limit: int, as_json: bool) -> None:
    from mlx import providers

    if not provider:
        raise UsageError(
            "--remote lists one cloud's jobs: give --provider",
            hint="e.g. mlx jobs -p sagemaker --remote",
        )
    from mlx.spec import check_provider_flag

    check_provider_flag(provider)
    found = providers.backend_for(provider).list_remote(limit)
    known = store.ids_by_native(provider, [j.full_id or j.native_id for j in found])
    rows = [_row(provider, job, known.get(job.full_id or job.native_id)) for job in found]
    if as_json:
        from mlx.console import print_json

        print_json(rows)
        return
    _table(rows)


def _iso(value: Optional[float]) -> Optional[str]:
    from datetime import datetime, timezone

    if value is None:
        return None
    return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="seconds")


def _row(provider: str, job: RemoteJob, mlx_id: Optional[str]) -> dict[str, Any]:
    return {
        "provider": provider,
        "native_id": job.native_id,
        "ref": f"{provider}:{job.native_id}",
        "name": job.name,
        "state": job.state.value,
        "created_at": _iso(job.created_at),
        "mlx_id": mlx_id,  # null: a job mlx did not launch
    }


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Column, Table

    from mlx.console import err, out

    if not rows:
        err.print("No jobs.")
        return
    table = Table(
        Column("job", no_wrap=True), "name", "state", "created", "mlx id",
        box=None, header_style="bold",
    )  # fmt: skip
    for row in rows:
        created = (row["created_at"] or "-")[:16].replace("T", " ")
        table.add_row(
            escape(row["ref"]), escape(row["name"]), row["state"], created, row["mlx_id"] or "-"
        )
    out.print(table)
