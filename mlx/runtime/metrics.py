"""Metrics parsed from the job's output lines, and reported the way each platform wants
them (the other channels a script reports through: ``channels.py``)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional

# A line that carries `step=12`, `epoch: 3` or `iteration=7` gives its metrics that step.
_STEP_RE = re.compile(r"\b(?:step|epoch|iter|iteration)[=:] *([0-9]+)\b", re.IGNORECASE)


class MetricValue(NamedTuple):
    name: str
    value: float
    step: Optional[int]
    time: float
    channel: str = "stdout"  # where the script reported it: stdout, stderr, hypertune, mlflow


class MetricParser:
    """Finds the spec's metrics in each output line."""

    def __init__(self, definitions: Sequence[Mapping[str, str]]) -> None:
        self._patterns = [(d["name"], re.compile(d["regex"])) for d in definitions]
        self.last: dict[str, float] = {}

    def feed(self, line: str, channel: str = "stdout") -> list[MetricValue]:
        found = []
        step_match = _STEP_RE.search(line) if self._patterns else None
        step = int(step_match.group(1)) if step_match else None
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if not match:
                continue
            try:
                value = float(match.group(1))
            except (ValueError, IndexError):
                continue
            self.last[name] = value
            found.append(MetricValue(name, value, step, time.time(), channel))
        return found


class Reporter:
    """Where collected metrics go; subclasses per platform. ``skips``: the channels whose
    reports the platform already has (they are not reported a second time)."""

    skips: tuple[str, ...] = ()

    def report(self, metric: MetricValue) -> None:  # pragma: no cover - interface
        pass

    def close(self) -> None:
        pass


class JsonLinesReporter(Reporter):
    """mlx's own record (local jobs, and tuning on local): one JSON object a line.

    A record that cannot be written (a full disk, a file that went away) must not stop the
    training, whose output passes through the same loop: it warns once and records no more.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._file = None  # type: Optional[Any]
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives with the job
        except OSError as e:
            self._give_up(e)

    def report(self, metric: MetricValue) -> None:
        if self._file is None:
            return
        try:
            self._file.write(json.dumps(metric._asdict()) + "\n")
            self._file.flush()
        except OSError as e:
            self._give_up(e)

    def _give_up(self, error: OSError) -> None:
        warn(
            "cannot write metrics to %s (%s): the job goes on, its metrics are no longer "
            "recorded" % (self._path, error.strerror or error)
        )
        self.close()

    def close(self) -> None:
        stream, self._file = self._file, None
        if stream is not None:
            with contextlib.suppress(OSError):  # closing flushes: the same full disk
                stream.close()


class MountedJsonLinesReporter(Reporter):
    """mlx's record on a Cloud Storage FUSE mount (Vertex's ``/gcs/``), in whole objects.

    The mount uploads a file when it is closed: "Data is guaranteed to be on GCS only after
    the file is closed", and a staged write goes up "upon closing or fsyncing"
    (https://github.com/GoogleCloudPlatform/gcsfuse/blob/master/docs/semantics.md, Writes).
    A file appended to for the whole job is lost with the job on a timeout or preemption.
    So the record grows in a local file, and after a report the whole of it is copied to
    the mount (open, write, close: one new object generation), at most once every
    ``interval`` seconds, as Cloud Storage allows one write a second to the same object
    name (https://cloud.google.com/storage/quotas#objects); a report inside the interval
    is copied when it ends, and ``close`` copies what is left. A job killed outright loses
    at most its last ``interval`` seconds of reports.
    """

    def __init__(self, path: str, interval: float = 5.0) -> None:
        fd, self._local = tempfile.mkstemp(prefix="mlx-metrics-", suffix=".jsonl")
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._path, self._interval = path, interval
        self._lock = threading.Lock()
        self._copied_at = float("-inf")
        self._pending = False
        self._timer: Optional[threading.Timer] = None
        self._broken = False

    def report(self, metric: MetricValue) -> None:
        with self._lock:
            self._file.write(json.dumps(metric._asdict()) + "\n")
            self._file.flush()
            self._pending = True
            wait = self._copied_at + self._interval - time.monotonic()
            if wait <= 0:
                self._copy()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._copy_later)
                self._timer.daemon = True
                self._timer.start()

    def _copy_later(self) -> None:
        with self._lock:
            self._timer = None
            if self._pending:
                self._copy()

    def _copy(self) -> None:
        self._pending, self._copied_at = False, time.monotonic()
        try:
            os.makedirs(os.path.dirname(self._path) or ".", exist_ok=True)
            shutil.copyfile(self._local, self._path)
        except OSError as e:  # the mount failing must not stop the training
            if not self._broken:
                self._broken = True
                warn("cannot copy the metrics to %s: %s" % (self._path, e))

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._pending:
                self._copy()
            self._file.close()
        with contextlib.suppress(OSError):
            os.unlink(self._local)


class HypertuneReporter(Reporter):
    """Vertex AI tuning: the objective in cloudml-hypertune's metrics file, so the user's
    script needs no ``cloudml-hypertune``.

    Written exactly as that library writes it (hypertune/hypertune.py,
    https://github.com/GoogleCloudPlatform/cloudml-hypertune, the one release 0.1.0.dev6):
    each report rewrites the file with the last 100 reports, one
    ``json.dumps(entry, sort_keys=True)`` a line; an entry holds ``timestamp`` (a float),
    ``trial`` (text), the metric tag -> the value as text (``str(float(value))``),
    ``global_step`` (text, "0" without one) and ``checkpoint_path`` ("": mlx reports none).

    The script may write the same file with the library (it is Vertex's own): reports that
    came from it are not written again (``skips``), the file's other entries are kept, and
    an entry's timestamp is the report's own time, so the channel reader knows it for a
    report already seen.
    """

    KEEP = 100  # the library's _MAX_NUM_METRIC_ENTRIES_TO_PRESERVE
    skips = ("hypertune",)

    def __init__(self, path: str, tag: str, trial: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._path, self._tag, self._trial = path, tag, str(trial)

    def report(self, metric: MetricValue) -> None:
        if metric.name != self._tag:
            return
        step = metric.step
        entry = {
            "timestamp": metric.time,
            "trial": self._trial,
            self._tag: str(float(metric.value)),
            "global_step": str(int(step) if step else 0),
            "checkpoint_path": "",
        }
        lines = [*self._existing(), json.dumps(entry, sort_keys=True)][-self.KEEP :]
        with open(self._path, "w", encoding="utf-8") as f:  # in place, as the library does
            f.write("".join(line + "\n" for line in lines))

    def _existing(self) -> list[str]:
        try:
            with open(self._path, encoding="utf-8", errors="replace") as f:
                return [line for line in f.read().splitlines() if line.strip()]
        except OSError:
            return []


class MlflowReporter(Reporter):
    """Azure ML: metrics logged with MLflow, where a sweep reads its objective.

    Azure ML sets ``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID`` in the job, so
    ``mlflow.log_metric`` lands on the job's (the trial's) run when the image has ``mlflow``
    and ``azureml-mlflow``. A failing call warns once and never stops the training. What
    the script logged with MLflow itself is there already (``skips``).
    """

    skips = ("mlflow",)

    def __init__(self, mlflow: Any) -> None:
        self._mlflow = mlflow
        self._broken = False

    def report(self, metric: MetricValue) -> None:
        if self._broken:
            return
        try:
            self._mlflow.log_metric(metric.name, metric.value, step=metric.step or 0)
        except Exception as e:  # any failure of the tracking client: the job goes on
            self._broken = True
            warn("logging metrics to MLflow failed, no more are sent: %s" % (e,))


def mlflow_reporter(objective: Optional[str]) -> Optional[Reporter]:
    """An ``MlflowReporter`` when the image has mlflow; else one clear line saying so."""
    try:
        import mlflow  # not part of the bootstrap: the image's own, if any
    except ImportError:
        if objective:
            warn(
                "mlflow is not installed in this image, so the sweep cannot see the "
                "objective %r; add mlflow and azureml-mlflow to the image" % objective
            )
        else:
            warn("mlflow is not installed in this image: metrics stay in the log only")
        return None
    return MlflowReporter(mlflow)


def make_reporters(config: Mapping[str, Any], adapter: Any = None) -> list[Reporter]:
    """The metrics file the runtime config names (``metrics_file``; with
    ``metrics_file_on_mount`` it is on a mount that uploads files when they are closed),
    and the platform adapter's reporters (its tuner's channel); only node 0 reports."""
    reporters: list[Reporter] = []
    if int(config.get("node_rank") or 0) != 0:
        return reporters
    path = config.get("metrics_file")
    if path and config.get("metrics_file_on_mount"):
        reporters.append(MountedJsonLinesReporter(path))
    elif path:
        reporters.append(JsonLinesReporter(path))
    if adapter is not None:
        reporters.extend(adapter.reporters(config))
    return reporters


def warn(message: str) -> None:
    sys.stderr.write("[mlx] " + message + "\n")
    sys.stderr.flush()
