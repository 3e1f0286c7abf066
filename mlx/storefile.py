"""Opening the job store's SQLite file, and saying in one line what is wrong with it.

A damaged store is reported, never overwritten: every failure here names the file and what
to do (``mlx doctor`` checks it; ``mlx doctor --repair`` keeps the damaged file aside and
starts a new one with the rows it can still read). A store mlx may not write (a read-only
``$MLX_HOME``) is still read, so ``mlx jobs``, ``status`` and ``logs`` keep working there.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from mlx.errors import MlxError

REPAIR_HINT = (
    "`mlx doctor` checks it; `mlx doctor --repair` moves it aside (kept, never overwritten) "
    "and starts a new store with every job it can still read."
)


class StoreDamaged(MlxError):
    """The job store cannot be read as mlx wrote it."""


class StoreReadOnly(MlxError):
    """The job store may be read but not written (a read-only ``$MLX_HOME``)."""


def damaged(path: Path, problem: str) -> StoreDamaged:
    return StoreDamaged(f"job store {path} {problem}", hint=REPAIR_HINT)


def read_only(path: Path) -> StoreReadOnly:
    return StoreReadOnly(
        f"job store {path} is read-only: mlx can show jobs but not record any",
        hint=f"Make {path.parent} writable, or set MLX_HOME to a writable folder.",
    )


def job_folders(home: Path) -> int:
    """How many local job folders ``home/jobs`` holds."""
    try:
        return sum(1 for entry in os.scandir(home / "jobs") if entry.is_dir())
    except OSError:
        return 0


def check_before_open(path: Path) -> None:
    """Problems SQLite would not report, or would "fix" by writing a new database."""
    home = path.parent
    if home.exists() and not home.is_dir():
        raise StoreDamaged(
            f"the mlx home {home} is a file, not a folder, so there is no job store",
            hint="Set MLX_HOME to a folder (or move that file away).",
        )
    if path.is_dir():
        raise damaged(path, "is a folder, not a database file")
    try:
        empty = path.is_file() and path.stat().st_size == 0
    except OSError:
        empty = False
    # SQLite takes a 0-byte file for a new database, so every job would silently vanish
    # from the listing. mlx writes a row before a job's folder exists, and SQLite writes
    # the file's header before any row: folders beside an empty file mean it lost them.
    if empty and job_folders(home):
        raise damaged(
            path,
            f"is empty (0 bytes) while {job_folders(home)} job folder(s) remain in {home / 'jobs'}",
        )


def make_home(path: Path) -> bool:
    """Create the store's folder; False when it may not be created (read-only)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        return False
    except FileExistsError:
        check_before_open(path)
        raise
    except OSError as e:
        if e.errno == errno.EROFS:  # a read-only file system
            return False
        raise StoreDamaged(
            f"cannot create the job store's folder {path.parent}: {e.strerror}",
            hint="Set MLX_HOME to a folder mlx may create.",
        ) from None
    return True


def writable(path: Path) -> bool:
    """Whether this process may write the store (its folder, and the file if it exists)."""
    if not os.access(path.parent, os.W_OK):
        return False
    return not path.exists() or os.access(path, os.W_OK)


def open_read_only(path: Path, salvage: bool = False) -> sqlite3.Connection:
    """A connection that never writes: ``mode=ro``, which sees other writers where the WAL
    index can be shared, else ``immutable=1`` (a WAL database in a folder nobody may write
    to cannot get its ``-shm`` file; https://www.sqlite.org/wal.html#readonly).

    ``salvage``: read a truncated file as far as it goes. SQLite calls a file shorter than
    its header says corrupt unless ``writable_schema`` is on, and then reads the pages that
    are there (``lockBtree`` in btree.c); on a read-only connection that writes nothing.
    """
    if not path.exists():
        return sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    last: Optional[sqlite3.Error] = None
    for flags in ("mode=ro", "immutable=1"):
        uri = f"file:{quote(str(path))}?{flags}"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        if salvage:
            conn.execute("PRAGMA writable_schema = ON")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error as e:
            conn.close()
            last = e
            if "readonly" not in str(e) and "unable to open" not in str(e):
                break
    raise explain(path, last or sqlite3.DatabaseError("cannot be opened"))


def explain(path: Path, error: sqlite3.Error) -> MlxError:
    """One line for a SQLite failure on the store at ``path``."""
    text = str(error)
    if "database or disk is full" in text:
        return MlxError(
            f"job store {path}: the disk is full",
            hint="Free some space and run the command again; the change was not recorded.",
        )
    if "readonly" in text:
        return read_only(path)
    if "disk I/O error" in text:
        return MlxError(f"job store {path}: disk I/O error", hint=REPAIR_HINT)
    if "unable to open" in text:
        check_before_open(path)
        return MlxError(
            f"job store {path} cannot be opened ({text})",
            hint=f"Check that {path.parent} is a folder mlx may read.",
        )
    return damaged(path, f"is damaged ({text})")
