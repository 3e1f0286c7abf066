"""The MLflow channel: metrics a script logs with ``mlflow.log_metric`` (or autolog), read
back from the job's own SQLite tracking store with the standard library's ``sqlite3``.

Unless the job's environment already has ``MLFLOW_TRACKING_URI`` (the user's own server, or
Azure ML's workspace tracking, which Azure sets in every job), the bootstrap points it at
``sqlite:///<the job's folder>/mlflow.db``. MLflow 3.x keeps its runs in a SQLite store by
default and refuses a ``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE`` is set
(mlflow/mlflow, mlflow/environment_variables.py: ``MLFLOW_TRACKING_URI``,
``MLFLOW_ALLOW_FILE_STORE``; mlflow/cli/__init__.py: "local SQLite database
(sqlite:///mlflow.db)"). An absolute path takes four slashes: ``sqlite:///`` + ``/path``
(SQLAlchemy's SQLite URLs, which MLflow's SQL store hands the URI to).

The schema read (mlflow/mlflow, mlflow/store/tracking/dbmodels/models.py, ``SqlMetric``):
table ``metrics`` with ``key`` (the metric's name), ``value`` (a float; a NaN is stored as 0
with ``is_nan`` 1), ``timestamp`` (milliseconds since the epoch), ``step`` and
``run_uuid``, one row per logged value. (``latest_metrics``, ``SqlLatestMetric``, keeps one
row per run and key, but the one of the highest step, not the last logged: a job's value is
its last report, so the rows of ``metrics`` are read in the order they were inserted, by
SQLite's ``rowid``.) Every run in the store counts: the store is the job's alone.

Standard library only (Python 3.8+): it runs inside the job.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional

from mlx.runtime.metrics import MetricValue

ENV = "MLFLOW_TRACKING_URI"
FILE_NAME = "mlflow.db"
CHANNEL = "mlflow"

_QUERY = (
    "SELECT rowid, key, value, timestamp, step, is_nan FROM metrics WHERE rowid > ? ORDER BY rowid"
)


def tracking_uri(path: str) -> str:
    """The ``MLFLOW_TRACKING_URI`` of the SQLite store at ``path`` (made absolute)."""
    return "sqlite:///" + os.path.abspath(path)


class MlflowStore:
    """Reads new values of the spec's metrics from an MLflow SQLite store while the job
    runs; the store may not exist yet, or be mid-migration (its tables are made by the
    script's first MLflow call): such a read finds nothing and the next one tries again."""

    channel = CHANNEL

    def __init__(self, path: str, names: Sequence[str]) -> None:
        self.path = os.path.abspath(path)
        self._names = set(names)
        self._rowid = 0
        self._stamp: Optional[tuple[float, ...]] = None

    def describe(self) -> str:
        return "MLflow (%s)" % tracking_uri(self.path)

    def read(self, force: bool = False) -> list[MetricValue]:
        """Values logged since the last read, in the order they were logged."""
        stamp = self._stat()
        if stamp is None or (stamp == self._stamp and not force):
            return []
        # Imported once a store exists: sqlite3 costs a job that never uses MLflow ~25 ms.
        import sqlite3
        import urllib.parse

        uri = "file:%s?mode=ro" % urllib.parse.quote(self.path)
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=5)
        except sqlite3.Error:
            return []
        try:
            rows = connection.execute(_QUERY, (self._rowid,)).fetchall()
        except sqlite3.Error:  # no tables yet, or locked past the timeout: next time
            return []
        finally:
            connection.close()
        self._stamp = stamp
        found = []
        for rowid, key, value, timestamp, step, is_nan in rows:
            self._rowid = max(self._rowid, int(rowid))
            if key in self._names and not is_nan:
                when = float(timestamp) / 1000.0
                found.append(MetricValue(key, float(value), int(step) or None, when, CHANNEL))
        return found

    def _stat(self) -> Optional[tuple[float, ...]]:
        """The store's files' times and sizes (its WAL too): unchanged means nothing new."""
        stamp: list[float] = []
        for suffix in ("", "-wal"):
            try:
                stat = os.stat(self.path + suffix)
            except OSError:
                if not suffix:
                    return None
                continue
            stamp += [stat.st_mtime_ns, stat.st_size]
        return tuple(stamp)
