"""``mlx jobs --prune``: forget the jobs a provider never accepted.

A submit that failed (a bucket that does not exist, a refused request, a missing
permission) stays listed as ``failed`` so its reason can be read; once read, it is clutter.
Only such rows go: nothing ran, so nothing on a cloud or on disk refers to them. Jobs that
ran, and cloud jobs whose submit may still be settling (``pending``), are never touched.
"""

from __future__ import annotations

from typing import Optional

from mlx.model import JobRecord, JobState
from mlx.store import Store
from mlx.submissions import unsubmitted


def never_submitted(record: JobRecord) -> bool:
    """A cloud job whose submit failed for certain: ended, with no provider id."""
    return record.state == JobState.FAILED and unsubmitted(record)


def prune(store: Store, provider: Optional[str] = None) -> list[JobRecord]:
    """Delete every failed submit (of ``provider``); return what was deleted."""
    gone = [
        r for r in store.list(provider=provider, states=[JobState.FAILED]) if never_submitted(r)
    ]
    for record in gone:
        store.delete(record.id)
    return gone


def prune_command(store: Store, provider: Optional[str], as_json: bool) -> None:
    """What ``mlx jobs --prune`` prints: the ids removed (``--json``: a list of objects)."""
    from rich.markup import escape

    from mlx.console import err, out, print_json

    gone = prune(store, provider)
    if as_json:
        print_json([{"id": r.id, "provider": r.provider, "message": r.message} for r in gone])
        return
    for record in gone:
        out.print(f"removed {record.id} ({escape(record.message or 'never submitted')})")
    err.print(f"Removed {len(gone)} job(s) that were never submitted.")
