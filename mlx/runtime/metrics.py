"""Metrics parsed from the job's stdout, and reported the way each platform wants them."""

from __future__ import annotations

import json
import os
import re
import sys
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


def make_reporters(config: Mapping[str, Any]) -> list[Reporter]:
    reporters: list[Reporter] = []
    if config.get("metrics_file") and int(config.get("node_rank") or 0) == 0:
        reporters.append(JsonLinesReporter(config["metrics_file"]))
    return reporters


def warn(message: str) -> None:
    sys.stderr.write("[mlx] " + message + "\n")
    sys.stderr.flush()
