"""``mlx open JOB``: the job's page in its provider's web console (as ``az ml job show
--web`` and the SDKs' printed links give it). The URL is printed on stdout; a browser is
opened only with ``--web``."""

from __future__ import annotations

from typing import Optional

from mlx.errors import MlxError
from mlx.model import JobRecord


def console_url(record: JobRecord) -> Optional[str]:
    """``record``'s console page, from its backend's ``console_url`` hook; None: it has none
    (it ran here, was rehearsed here, or the provider never accepted it)."""
    from mlx.lifecycle import backend_for

    return None if record.rehearsal else backend_for(record).console_url(record)


def open_command(record: JobRecord, web: bool, as_json: bool) -> None:
    from mlx.console import err, print_json

    url = console_url(record)
    if url is None:
        raise MlxError(f"{record.id} has no console page: {_why(record)}", hint=_hint(record))
    if as_json:
        print_json({"id": record.id, "url": url})
    else:
        print(url, flush=True)
    if web:
        import webbrowser

        if not webbrowser.open(url):
            err.print("No browser could be started here; the URL is above.")


def _why(record: JobRecord) -> str:
    if record.rehearsal:
        return "it was rehearsed on this machine"
    if not record.native_id:
        return f"{record.provider} never accepted it"
    return f"{record.provider} jobs run on this machine"


def _hint(record: JobRecord) -> str:
    return f"`mlx status {record.id}` and `mlx logs {record.id}` show it."
