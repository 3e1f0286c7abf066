"""The job registry: one SQLite database (WAL) under ``$MLX_HOME``, one row per job.

Safe with many mlx processes at once: WAL lets readers run beside a writer, every write is a
short ``BEGIN IMMEDIATE`` transaction, and "database is locked" is retried with backoff well
past SQLite's own busy timeout, so users never see it.

A damaged file or row is reported in one line naming the store (``mlx.storefile``), never
overwritten; a damaged row is skipped in listings, with a warning. A store mlx may not write
is opened read-only: listing and showing jobs still work.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from mlx import storefile
from mlx.errors import JobNotFound, MlxError
from mlx.model import TERMINAL_STATES, JobKind, JobRecord, JobState

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'training',
    parent_id     TEXT,
    name          TEXT NOT NULL,
    native_id     TEXT,
    location      TEXT NOT NULL DEFAULT '{}',
    state         TEXT NOT NULL,
    message       TEXT,
    exit_code     INTEGER,
    spec          TEXT NOT NULL,
    artifacts_uri TEXT,
    info          TEXT NOT NULL DEFAULT '{}',
    metrics       TEXT NOT NULL DEFAULT '{}',
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    ended_at      REAL
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_provider ON jobs (provider, created_at);
CREATE INDEX IF NOT EXISTS jobs_parent ON jobs (parent_id);
CREATE INDEX IF NOT EXISTS jobs_native ON jobs (provider, native_id);
"""
_JSON_COLUMNS = ("location", "spec", "info", "metrics")
_RETRY_FOR = 120.0  # seconds of "database is locked" before giving up


# What ``list(summary=True)`` reads: of the JSON columns, only what listings show
# (``mlx.output.record_json``, ``timefmt.run_time``): the spec's ``tags``, the location's
# ``rehearsal``, the info's ``started_at``, cut out by SQLite's JSON functions (in C) so a
# listing decodes no spec and no small JSON either; ``*_ok`` says the column is a JSON
# object (``{``: mlx writes no leading blank). A spec that is not passes whole, and the
# raw location and info come last, for ``record_from_row`` to report what is wrong.
SUMMARY_COLUMNS = (
    "id, provider, kind, parent_id, name, native_id, state, message, exit_code, "
    "artifacts_uri, metrics, created_at, updated_at, ended_at, "
    "CASE WHEN json_valid(spec) AND substr(spec, 1, 1) = '{' "
    "THEN json_object('tags', json_extract(spec, '$.tags')) ELSE spec END AS spec, "
    + ", ".join(
        f"json_valid({c}) AND substr({c}, 1, 1) = '{{' AS {c}_ok, "
        f"CASE WHEN json_valid({c}) THEN json_extract({c}, '$.{key}') END AS {c}_{key}"
        for c, key in (("location", "rehearsal"), ("info", "started_at"))
    )
    + ", rowid"  # to read a row that fails a check whole (``Store._query``)
)
_NO_TAGS = '{"tags":null}'


_FIELDS = {f.name: f for f in dataclasses.fields(JobRecord)}
_REQUIRED = {n for n, f in _FIELDS.items() if f.default is f.default_factory is dataclasses.MISSING}
_NUMBERS = {"created_at": False, "updated_at": False, "ended_at": True}  # name -> may be null
_TEXTS = ("id", "provider", "name")
_MAX_LIMIT = 2**62  # SQLite's LIMIT is a 64-bit integer; more rows than that never exist


class DamagedRow(ValueError):
    """A row that is not what mlx writes (the reason is the message)."""


def record_from_row(row: sqlite3.Row) -> JobRecord:
    """A ``JobRecord`` from one row of ``jobs``; columns mlx does not know are ignored (a
    newer mlx may have added them).

    Raises:
        DamagedRow: a missing column, a value of the wrong type, bad JSON, an unknown state.
    """
    columns = row.keys()
    missing = sorted(_REQUIRED - set(columns))
    if missing:
        raise DamagedRow(f"column {missing[0]} is missing")
    values = {k: row[k] for k in columns if k in _FIELDS}
    for column in _TEXTS:
        if not isinstance(values[column], str):
            raise DamagedRow(f"{column} {values[column]!r} is not text")
    for column, nullable in _NUMBERS.items():
        value = values.get(column)
        if not (isinstance(value, (int, float)) or (nullable and value is None)):
            raise DamagedRow(f"{column} {value!r} is not a time")
    for column in _JSON_COLUMNS:
        if column in values:
            values[column] = _json_object(column, values[column])
    metrics = values.get("metrics") or {}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()):
        raise DamagedRow("metrics holds a value that is not a number")
    values["state"] = _enum(JobState, "state", values["state"])
    values["kind"] = _enum(JobKind, "kind", values.get("kind", JobKind.TRAINING.value))
    if not isinstance(values.get("exit_code"), (int, type(None))):
        raise DamagedRow(f"exit_code {values['exit_code']!r} is not a number")
    return JobRecord(**values)


_STATE_OF = {state.value: state for state in JobState}
_KIND_OF = {kind.value: kind for kind in JobKind}
_TIME = (int, float)


def summary_from_row(row: sqlite3.Row) -> Optional[JobRecord]:
    """``record_from_row`` for a row of ``SUMMARY_COLUMNS``, several times quicker (a
    listing of 100,000 jobs): the same checks, written out for that one column order; None
    for a row that fails any (``Store._query`` reads it whole for ``record_from_row``, which
    names what is wrong: the whole location and info columns cost a third of the query)."""
    (job_id, provider, kind, parent, name, native, state, message, exit_code, artifacts,
     metrics, created, updated, ended, spec, location_ok, rehearsal, info_ok, started,
     _rowid) = row  # fmt: skip
    clean = (
        type(job_id) is str
        and type(provider) is str
        and type(name) is str
        and type(created) in _TIME
        and type(updated) in _TIME
        and (ended is None or type(ended) in _TIME)
        and (exit_code is None or type(exit_code) is int)
        and state in _STATE_OF
        and kind in _KIND_OF
        and location_ok
        and info_ok
    )
    values = _quick_object(metrics)
    shown = {} if spec == _NO_TAGS else _quick_object(spec)
    if (
        not clean
        or values is None
        or shown is None
        or not all(type(v) in _TIME for v in values.values())
    ):
        return None
    return JobRecord(
        id=job_id, provider=provider, name=name, state=_STATE_OF[state], kind=_KIND_OF[kind],
        parent_id=parent, native_id=native, message=message, exit_code=exit_code,
        artifacts_uri=artifacts, created_at=created, updated_at=updated, ended_at=ended,
        location={} if rehearsal is None else {"rehearsal": rehearsal}, spec=shown,
        info={} if started is None else {"started_at": started}, metrics=values,
    )  # fmt: skip


_raw_decode = json.JSONDecoder().raw_decode


def _quick_object(text: Any) -> Optional[dict[str, Any]]:
    """``_json_object`` for text as mlx writes it, without ``json.loads``'s wrapper (half
    the time: twice per job of a 100,000-job listing); None for anything else, which the
    caller reads the careful way."""
    if not text or text == "{}":
        return {}
    try:
        value, end = _raw_decode(text)
    except (TypeError, ValueError):
        return None
    return value if type(value) is dict and end == len(text) else None


def _json_object(column: str, text: Any) -> dict[str, Any]:
    if not text or text == "{}":
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise DamagedRow(f"{column} is not valid JSON") from None
    if not isinstance(value, dict):
        raise DamagedRow(f"{column} is not a JSON object")
    return value


def _enum(kind: Any, column: str, value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise DamagedRow(f"{column} {value!r} is not one mlx knows") from None


class Store:
    """The registry at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: Optional[sqlite3.Connection] = None
        self.read_only = False  # set when the file may only be read (see ``storefile``)
        self.damaged_rows: list[str] = []  # ids of rows the last listing skipped
        # One connection, shared by the threads of one process (the tuner runs trials in
        # threads); the lock keeps each transaction whole.
        self._lock = threading.RLock()

    @classmethod
    def default(cls) -> Store:
        from mlx.settings import mlx_home

        return cls(mlx_home() / "jobs.db")

    # -- connection --------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.read_only = False
            storefile.check_before_open(self.path)
            if storefile.make_home(self.path) and storefile.writable(self.path):
                conn = sqlite3.connect(
                    self.path, timeout=10, isolation_level=None, check_same_thread=False
                )
            else:
                conn = storefile.open_read_only(self.path)
                self.read_only = True
            conn.row_factory = sqlite3.Row
            self._conn = conn
            try:
                self._retry(self._init_db)
            except BaseException:
                self.close()
                raise
        return self._conn

    def _init_db(self) -> None:
        conn = self._conn
        assert conn is not None
        if self.read_only:
            if not self.path.exists():  # no store yet: an empty one in memory lists nothing
                conn.executescript(_SCHEMA)
            return
        conn.execute("PRAGMA busy_timeout = 10000")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executescript(_SCHEMA.replace(";", ";\n"))  # executescript commits
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _retry(self, action: Any) -> Any:
        deadline = time.monotonic() + _RETRY_FOR
        delay = 0.01
        while True:
            try:
                with self._lock:
                    return action()
            except sqlite3.IntegrityError:
                raise
            except sqlite3.DatabaseError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise storefile.explain(self.path, e) from None
                if time.monotonic() > deadline:
                    raise MlxError(
                        f"job store {self.path} stayed locked for {_RETRY_FOR:.0f}s",
                        hint="Another process holds it; check for a stuck mlx process.",
                    ) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        if self.read_only:
            raise storefile.read_only(self.path)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _run_write(self, sql: str, params: tuple[Any, ...]) -> int:
        def action() -> int:
            with self._write() as conn:
                return conn.execute(sql, params).rowcount

        return self._retry(action)

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._connect()
        rows: list[sqlite3.Row] = self._retry(lambda: conn.execute(sql, params).fetchall())
        return rows

    def _record(self, row: sqlite3.Row) -> JobRecord:
        try:
            return record_from_row(row)
        except DamagedRow as e:
            problem = f"has a damaged row for job {_row_id(row)}: {e}"
            raise storefile.damaged(self.path, problem) from None

    def _query(
        self, sql: str, params: tuple[Any, ...] = (), read: Any = record_from_row
    ) -> list[JobRecord]:
        """The records of the matching rows (each made by ``read``); damaged rows are
        skipped (``damaged_rows``)."""
        records, self.damaged_rows = [], []
        for row in self._rows(sql, params):
            try:
                record = read(row)
                if record is None:  # a summary row that failed a check: read it whole
                    whole = self._rows("SELECT * FROM jobs WHERE rowid = ?", (row["rowid"],))
                    record = record_from_row(whole[0])
                records.append(record)
            except DamagedRow:
                self.damaged_rows.append(_row_id(row))
        return records

    # -- writes ------------------------------------------------------------------------

    def insert(self, record: JobRecord) -> None:
        values = {
            k: (json.dumps(v) if k in _JSON_COLUMNS else v) for k, v in record.__dict__.items()
        }
        values["state"] = JobState(record.state).value
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        try:
            self._run_write(
                f"INSERT INTO jobs ({columns}) VALUES ({marks})", tuple(values.values())
            )
        except sqlite3.IntegrityError as e:
            if "UNIQUE" not in str(e):  # a column mlx does not know that needs a value
                raise storefile.damaged(self.path, f"refuses new jobs ({e})") from None
            raise MlxError(f"job {record.id} is already in the store") from None

    def update(self, job_id: str, *, unless_ended: bool = False, **changes: Any) -> bool:
        """Set columns of one job; True when the row changed.

        A terminal ``state`` also stamps ``ended_at``. With ``unless_ended`` the row changes
        only while the job has not ended: the supervisor and a ``cancel`` may both see a job
        end, and the first terminal state written wins.
        """
        now = time.time()
        changes["updated_at"] = now
        if "state" in changes:
            state = JobState(changes["state"])
            changes["state"] = state.value
            if state in TERMINAL_STATES:
                changes.setdefault("ended_at", now)
        for column in _JSON_COLUMNS:
            if column in changes:
                changes[column] = json.dumps(changes[column])
        assignments = ", ".join(f"{column} = ?" for column in changes)
        sql = f"UPDATE jobs SET {assignments} WHERE id = ?"
        params: tuple[Any, ...] = (*changes.values(), job_id)
        if unless_ended:
            sql += " AND state NOT IN (?, ?, ?)"
            params += tuple(s.value for s in TERMINAL_STATES)
        count = self._run_write(sql, params)
        if count == 0 and not unless_ended:
            raise JobNotFound(f"no job {job_id!r} in the store")
        return count > 0

    def delete(self, job_id: str) -> None:
        self._run_write("DELETE FROM jobs WHERE id = ?", (job_id,))

    # -- reads -------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord:
        rows = self._rows("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise JobNotFound(f"no job {job_id!r}", hint="`mlx jobs` lists the jobs mlx knows.")
        return self._record(rows[0])

    def find(self, ref: str) -> JobRecord:
        """A job by exact id, unique id prefix, or ``provider:native-id``."""
        from mlx.ids import check_job_ref

        ref = check_job_ref(ref)
        provider, sep, native = ref.partition(":")
        if sep:
            rows = self._rows(
                "SELECT * FROM jobs WHERE provider = ? AND native_id = ? "
                "ORDER BY created_at DESC LIMIT 1",
                (provider, native),
            )
            if not rows:
                raise JobNotFound(f"no job {ref!r} in the store")
            return self._record(rows[0])
        # A range scan on the primary key: a prefix never reaches SQL as a LIKE pattern.
        rows = self._rows(
            "SELECT * FROM jobs WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
            (ref, ref + "\U0010ffff"),
        )
        exact = [r for r in rows if r["id"] == ref]
        if exact:
            return self._record(exact[0])
        if not rows:
            raise JobNotFound(
                f"no job matches {ref!r}", hint="`mlx jobs` lists the jobs mlx knows."
            )
        if len(rows) > 1:
            shown = ", ".join(_row_id(r) for r in rows[:5])
            raise JobNotFound(
                f"{ref!r} matches more than one job ({shown}{', ...' if len(rows) > 5 else ''})",
                hint="Give more of the id.",
            )
        return self._record(rows[0])

    def ids_by_native(self, provider: str, native_ids: list[str]) -> dict[str, str]:
        """The mlx ids of ``provider``'s jobs among ``native_ids`` (indexed lookups)."""
        found: dict[str, str] = {}
        for start in range(0, len(native_ids), 500):  # SQLite's bound parameters
            chunk = native_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self._rows(
                f"SELECT id, native_id FROM jobs WHERE provider = ? AND native_id IN ({marks})",
                (provider, *chunk),
            )
            found.update({row["native_id"]: row["id"] for row in rows})
        return found

    def list(
        self,
        *,
        provider: Optional[str] = None,
        states: Optional[list[JobState]] = None,
        since: Optional[float] = None,
        kinds: tuple[JobKind, ...] = (JobKind.TRAINING, JobKind.TUNING),
        parent_id: Optional[str] = None,
        limit: Optional[int] = None,
        tags: Optional[dict[str, str]] = None,
        summary: bool = False,
    ) -> list[JobRecord]:
        """Jobs, newest first, filtered in SQL (indexed on provider, state and time; ``tags``,
        the spec's ``tags:`` holding every given key with its value, with SQLite's JSON
        functions while the time index is walked).

        With ``summary`` each record's spec holds only its ``tags`` (``SUMMARY_COLUMNS``):
        such a record is for showing; read the job whole to change it.

        Damaged rows are skipped, with one warning naming them (``mlx doctor`` checks them).
        """
        where: list[str] = []
        params: list[Any] = []
        if parent_id is not None:
            where.append("parent_id = ?")
            params.append(parent_id)
        else:
            where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            params.extend(kind.value for kind in kinds)
        if provider:
            where.append("provider = ?")
            params.append(provider)
        if states:
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(JobState(s).value for s in states)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        for key, value in (tags or {}).items():
            where.append("json_extract(spec, ?) = ?")  # a quoted key: dots are no path
            params.extend(('$.tags."' + key + '"', value))
        columns = SUMMARY_COLUMNS if summary else "*"
        sql = f"SELECT {columns} FROM jobs WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(min(int(limit), _MAX_LIMIT))
        records = self._query(sql, tuple(params), summary_from_row if summary else record_from_row)
        if self.damaged_rows:
            from mlx.console import warn

            shown = ", ".join(self.damaged_rows[:3]) + (
                ", ..." if len(self.damaged_rows) > 3 else ""
            )
            warn(
                f"job store {self.path}: skipped {len(self.damaged_rows)} damaged row(s) "
                f"({shown}); `mlx doctor` checks the store"
            )
        return records


def _row_id(row: sqlite3.Row) -> str:
    try:
        return repr(row["id"]) if not isinstance(row["id"], str) else row["id"]
    except (IndexError, KeyError):
        return "?"
