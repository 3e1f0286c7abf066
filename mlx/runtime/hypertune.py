"""The cloudml-hypertune channel: metrics a script reports with Google's ``hypertune``.

What the library does (GoogleCloudPlatform/cloudml-hypertune, hypertune/hypertune.py, the
one release 0.1.0.dev6):

- the file is ``CLOUD_ML_HP_METRIC_FILE``, else ``/tmp/hypertune/output.metrics``;
- each ``report_hyperparameter_tuning_metric(tag, value, global_step)`` rewrites the whole
  file in place (``open(path, "w")``) with the process's last 100 reports, one
  ``json.dumps(entry, sort_keys=True)`` a line: ``timestamp`` (``time.time()``), ``trial``,
  the tag -> ``str(float(value))``, ``global_step`` (text, "0" without one) and
  ``checkpoint_path``.

On Vertex the file is the platform's own (Vertex reads it: ``in_job`` names it); on every
other platform the bootstrap points ``CLOUD_ML_HP_METRIC_FILE`` at a file in the job's own
folder, so parallel trials never read each other's reports.

Standard library only (Python 3.8+): it runs inside the job.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Optional

from mlx.runtime.metrics import MetricValue

ENV = "CLOUD_ML_HP_METRIC_FILE"
DEFAULT_FILE = "/tmp/hypertune/output.metrics"  # the library's _DEFAULT_METRIC_PATH
FILE_NAME = "hypertune.metrics"  # in the job's own folder, off Vertex
CHANNEL = "hypertune"


class HypertuneFile:
    """Reads new reports of the spec's metrics from a hypertune metrics file.

    The library rewrites the file on every report, so a read may meet it half written: a
    line that is not JSON is skipped, and a report is new when its timestamp is later than
    the last one seen for its tag (the file keeps only the last 100 reports).
    """

    channel = CHANNEL

    def __init__(self, path: str, names: Sequence[str]) -> None:
        self.path = path
        self._names = list(names)
        self._seen: dict[str, float] = {}
        self._stamp: Optional[tuple[int, int]] = None

    def describe(self) -> str:
        return "the cloudml-hypertune file %s" % self.path

    def read(self, force: bool = False) -> list[MetricValue]:
        """Reports not returned before, oldest first (``force``: even if the file looks
        unchanged since the last read)."""
        try:
            stat = os.stat(self.path)
            if not force and (stat.st_mtime_ns, stat.st_size) == self._stamp:
                return []
            self._stamp = (stat.st_mtime_ns, stat.st_size)
            with open(self.path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        found = []
        for line in lines:
            found.extend(self._new_in(_entry(line)))
        return sorted(found, key=lambda m: m.time)

    def _new_in(self, entry: dict[str, Any]) -> list[MetricValue]:
        try:
            when = float(entry["timestamp"])
            step = int(entry.get("global_step") or 0)
        except (KeyError, TypeError, ValueError):
            return []
        found = []
        for name in self._names:
            if name not in entry or when <= self._seen.get(name, float("-inf")):
                continue
            try:
                value = float(entry[name])
            except (TypeError, ValueError):
                continue
            self._seen[name] = when
            found.append(MetricValue(name, value, step or None, when, CHANNEL))
        return found


def _entry(line: str) -> dict[str, Any]:
    try:
        found = json.loads(line)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
