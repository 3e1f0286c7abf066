"""Metrics parsed from the job's stdout, and reported the way each platform wants them."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Optional

# A line that carries `step=12`, `epoch: 3` or `iteration=7` gives its metrics that step.
_STEP_RE = re.compile(r"\b(?:step|epoch|iter|iteration)[=:] *([0-9]+)\b", re.IGNORECASE)


class MetricValue(NamedTuple):
    name: str
    value: float
    step: Optional[int]
    time: float


class MetricParser:
    """Finds the spec's metrics in each output line."""

    def __init__(self, definitions: Sequence[Mapping[str, str]]) -> None:
        self._patterns = [(d["name"], re.compile(d["regex"])) for d in definitions]
        self.last: dict[str, float] = {}

    def feed(self, line: str) -> list[MetricValue]:
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
            found.append(MetricValue(name, value, step, time.time()))
        return found


class Reporter:
    """Where parsed metrics go; subclasses per platform."""

    def report(self, metric: MetricValue) -> None:  # pragma: no cover - interface
        pass

    def close(self) -> None:
        pass


class JsonLinesReporter(Reporter):
    """mlx's own record (local jobs, and tuning on local): one JSON object a line."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives with the job

    def report(self, metric: MetricValue) -> None:
        self._file.write(json.dumps(metric._asdict()) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class HypertuneReporter(Reporter):
    """Vertex AI tuning: the objective in cloudml-hypertune's metrics file, so the user's
    script needs no ``cloudml-hypertune``.

    The format is that library's (``report_hyperparameter_tuning_metric``): the file holds
    the last 100 reports, one JSON object a line with sorted keys, ``timestamp`` (float),
    ``trial`` and ``global_step`` (text), and the metric tag -> the value as text. Each
    report rewrites the file, atomically here, so Vertex never reads half a line.
    """

    KEEP = 100

    def __init__(self, path: str, tag: str, trial: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._path, self._tag, self._trial = path, tag, str(trial)
        self._entries: deque[dict[str, Any]] = deque(maxlen=self.KEEP)

    def report(self, metric: MetricValue) -> None:
        if metric.name != self._tag:
            return
        self._entries.append(
            {
                "timestamp": metric.time,
                "trial": self._trial,
                self._tag: str(float(metric.value)),
                "global_step": str(int(metric.step or 0)),
            }
        )
        tmp = self._path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for entry in self._entries:
                f.write(json.dumps(entry, sort_keys=True) + "\n")
        os.replace(tmp, self._path)


class MlflowReporter(Reporter):
    """Azure ML: metrics logged with MLflow, where a sweep reads its objective.

    Azure ML sets ``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID`` in the job, so
    ``mlflow.log_metric`` lands on the job's (the trial's) run when the image has ``mlflow``
    and ``azureml-mlflow``. A failing call warns once and never stops the training.
    """

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
    """The metrics file the runtime config names, and the platform adapter's reporters
    (its tuner's channel); only node 0 reports."""
    reporters: list[Reporter] = []
    if int(config.get("node_rank") or 0) != 0:
        return reporters
    if config.get("metrics_file"):
        reporters.append(JsonLinesReporter(config["metrics_file"]))
    if adapter is not None:
        reporters.extend(adapter.reporters(config))
    return reporters


def warn(message: str) -> None:
    sys.stderr.write("[mlx] " + message + "\n")
    sys.stderr.flush()
