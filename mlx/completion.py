"""Shell completion of job ids (``mlx status <TAB>``), read from the job store.

Typer installs the shell side (``mlx --install-completion``: bash, zsh, fish, PowerShell);
the shell then runs ``mlx`` with ``_MLX_COMPLETE`` set on every <TAB>, and this function
answers. It must be fast and silent: one indexed range scan of the store opened read-only
(never created, never written), at most ``LIMIT`` ids, and nothing at all on any error.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

LIMIT = 50


def job_ids(incomplete: str) -> list[str]:
    """Ids of stored jobs (not trials) starting with ``incomplete``, newest first."""
    from mlx.settings import mlx_home

    try:
        return _ids_from(mlx_home() / "jobs.db", incomplete.lower())
    except Exception:  # completion never prints a traceback into the user's prompt
        return []


def _ids_from(path: Path, prefix: str) -> list[str]:
    if not path.is_file():
        return []
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=0.2)
    try:
        # A range on the primary key, as ``Store.find`` does: the prefix is no LIKE pattern.
        rows = conn.execute(
            "SELECT id FROM jobs WHERE id >= ? AND id < ? AND kind != 'trial' "
            "ORDER BY created_at DESC LIMIT ?",
            (prefix, prefix + "\U0010ffff", LIMIT),
        ).fetchall()
    finally:
        conn.close()
    return [row[0] for row in rows]
