"""``mlx doctor``'s look at the job store, and ``mlx doctor --repair``.

The check only reads (a read-only connection, SQLite's ``quick_check``, then every row as
mlx would read it). The repair never overwrites or deletes: it renames the damaged file
(with its ``-wal`` and ``-shm``) to ``jobs.db.damaged-<time>`` beside it and starts a new
store holding every row it could still read from the old one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlx import storefile
from mlx.errors import MlxError
from mlx.model import JobRecord
from mlx.store import DamagedRow, Store, record_from_row

MAX_ROWID_SCAN = 10_000_000  # a malformed table is read row by row up to this rowid
ROWID_GAP = 20_000  # ... or until this many rowids in a row hold nothing


def check_store(path: Path) -> dict[str, Any]:
    """What is wrong with the store at ``path``: ``ok``, ``problem`` (one line naming the
    store), ``jobs`` (readable rows), ``damaged_rows`` (``id: reason``), and the
    ``unknown_columns`` mlx ignores."""
    report: dict[str, Any] = {
        "path": str(path),
        "exists": path.exists(),
        "ok": True,
        "problem": None,
        "jobs": 0,
        "damaged_rows": [],
        "unknown_columns": [],
    }
    try:
        storefile.check_before_open(path)
        if path.exists():
            _check_file(path, report)
    except MlxError as e:
        report.update(ok=False, problem=e.message)
    except sqlite3.Error as e:
        report.update(ok=False, problem=storefile.explain(path, e).message)
    if report["damaged_rows"] and report["ok"]:
        count = len(report["damaged_rows"])
        report.update(ok=False, problem=f"job store {path} has {count} damaged row(s)")
    return report


def _check_file(path: Path, report: dict[str, Any]) -> None:
    from mlx.store import _FIELDS

    conn = storefile.open_read_only(path)
    try:
        verdict = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
        if verdict != ["ok"]:
            raise storefile.damaged(path, f"fails SQLite's integrity check ({verdict[0]})")
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)").fetchall()]
        if not columns:
            raise storefile.damaged(path, "has no jobs table")
        report["unknown_columns"] = [c for c in columns if c not in _FIELDS]
        conn.row_factory = sqlite3.Row
        for row in conn.execute("SELECT * FROM jobs"):
            try:
                record_from_row(row)
                report["jobs"] += 1
            except DamagedRow as e:
                report["damaged_rows"].append(f"{row['id']}: {e}")
    finally:
        conn.close()


def repair_store(path: Path) -> dict[str, Any]:
    """Keep a damaged store aside and start a new one with the rows that can be read.

    Returns the check's report plus ``kept_aside`` (the old file's new name), ``copied``
    and ``lost`` (rows that could not be read), and ``folders`` (local job folders).
    """
    report = check_store(path)
    if report["ok"]:
        return {**report, "kept_aside": None}
    home = path.parent
    if home.exists() and not home.is_dir():
        raise MlxError(
            f"the mlx home {home} is a file, not a folder; there is no store to repair",
            hint="Set MLX_HOME to a folder (or move that file away).",
        )
    records, lost = salvage(path)
    aside = _aside_name(path)
    for suffix in ("", "-wal", "-shm"):
        old = path.with_name(path.name + suffix)
        if old.exists():
            old.rename(aside.with_name(aside.name + suffix))
    store = Store(path)
    for record in records:
        store.insert(record)
    store.close()
    copied = len(records)
    return {
        **report,
        "kept_aside": str(aside),
        "copied": copied,
        "lost": lost,
        "folders": storefile.job_folders(home),
    }


def salvage(path: Path) -> tuple[list[JobRecord], list[str]]:
    """The records that can still be read from ``path``, and what could not be."""
    records: dict[str, JobRecord] = {}
    lost: list[str] = []
    if not path.is_file() or path.stat().st_size == 0:
        return [], lost
    try:
        conn = storefile.open_read_only(path, salvage=True)
    except MlxError as e:
        return [], [e.message]
    conn.row_factory = sqlite3.Row
    try:
        for row in _readable_rows(conn, lost):
            try:
                record = record_from_row(row)
            except DamagedRow as e:
                lost.append(f"{row['id']}: {e}")
                continue
            records.setdefault(record.id, record)
    finally:
        conn.close()
    return list(records.values()), lost


def _readable_rows(conn: sqlite3.Connection, lost: list[str]) -> Iterator[sqlite3.Row]:
    """Every row, or where the table is malformed, every row that reads on its own (rowids
    count up from 1; the scan ends after ``ROWID_GAP`` rowids without a row)."""
    try:
        yield from conn.execute("SELECT * FROM jobs").fetchall()
        return
    except sqlite3.Error as e:
        lost.append(f"the table is damaged ({e}); its rows were read one by one")
    failed, trailing, rowid, last_seen = 0, 0, 0, 0
    while rowid - last_seen < ROWID_GAP and rowid < MAX_ROWID_SCAN:
        rowid += 1
        try:
            row = conn.execute("SELECT * FROM jobs WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.Error:
            trailing += 1  # a lost page; counted once a later row shows it held rows
            continue
        if row is not None:
            failed, trailing, last_seen = failed + trailing, 0, rowid
            yield row
    if failed:
        lost.append(f"{failed} row(s) could not be read")


def _aside_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while any(candidate.with_name(candidate.name + s).exists() for s in ("", "-wal", "-shm")):
        number += 1
        candidate = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
    return candidate
