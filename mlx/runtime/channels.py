"""Every channel a script reports metrics through, gathered in one place inside the job.

- ``stdout`` and ``stderr``: the spec's regexes over each line (``metrics.MetricParser``);
  both streams pass through to the bootstrap's own, unmixed. (SageMaker applies its metric
  regexes to the whole log, stderr included: https://docs.aws.amazon.com/sagemaker/latest/
  dg/training-metrics.html; Python's ``logging`` writes to stderr.)
- ``hypertune``: the cloudml-hypertune file (``hypertune.py``).
- ``mlflow``: the job's own MLflow store (``mlflow_store.py``).

A metric's value is its last report on any channel: a report read from a file that is not
later than the metric's last one (a report seen already) is dropped. Every report goes to
the platform's reporters (``metrics.make_reporters``), each skipping the channels its
platform reads by itself; a declared metric that never appeared is a warning at the end,
naming the channels looked at.

Standard library only (Python 3.8+): it runs inside the job.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO, Optional

from mlx.runtime import hypertune, mlflow_store
from mlx.runtime.metrics import MetricParser, MetricValue, Reporter, warn

LIVE = ("stdout", "stderr")  # read as they happen: never older than what came before
POLL_SECONDS = 2.0


class Collector:
    """The last report of each declared metric, and the reporters every new one goes to."""

    def __init__(self, names: Sequence[str], reporters: Sequence[Reporter]) -> None:
        self.names = list(names)
        self.latest: dict[str, MetricValue] = {}
        self._reporters = list(reporters)
        self._broken: set[int] = set()
        self._lock = threading.Lock()

    def offer(self, metric: MetricValue) -> None:
        with self._lock:
            last = self.latest.get(metric.name)
            stale = last is not None and metric.time <= last.time
            if metric.name not in self.names or (metric.channel not in LIVE and stale):
                return
            self.latest[metric.name] = metric
            for reporter in self._reporters:
                if metric.channel not in reporter.skips:
                    self._report(reporter, metric)

    def _report(self, reporter: Reporter, metric: MetricValue) -> None:
        if id(reporter) in self._broken:
            return
        try:
            reporter.report(metric)
        except Exception as e:  # a reporter failing must not stop the training
            self._broken.add(id(reporter))
            warn(
                "reporting metrics (%s) failed, no more are sent: %s" % (type(reporter).__name__, e)
            )

    def missing(self) -> list[str]:
        return [name for name in self.names if name not in self.latest]


class LineOutput:
    """A binary stream the command's output and mlx's own lines share: mlx's lines go out
    at a line boundary only, never inside one of the command's lines."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._at_start = True
        self._held: list[bytes] = []
        self._lock = threading.Lock()

    def passthrough(self, chunk: bytes) -> None:
        with self._lock:
            self._stream.write(chunk)
            self._at_start = chunk.endswith(b"\n")
            if self._at_start and self._held:
                self._stream.write(b"".join(self._held))
                self._held = []
            self._stream.flush()

    def line(self, text: str) -> None:
        with self._lock:
            data = (text + "\n").encode("utf-8", "replace")
            if not self._at_start:
                self._held.append(data)
                return
            self._stream.write(data)
            self._stream.flush()

    def close(self) -> None:
        with self._lock:
            if self._held:
                self._stream.write((b"" if self._at_start else b"\n") + b"".join(self._held))
                self._held, self._at_start = [], True
                self._stream.flush()


class LogLineReporter(Reporter):
    """SageMaker: a line its ``MetricDefinitions`` regex (the spec's) matches, for a value
    that did not come from the log (hypertune, MLflow): SageMaker reads metrics only from
    the log (https://docs.aws.amazon.com/sagemaker/latest/dg/training-metrics.html)."""

    skips = LIVE  # SageMaker's regexes see these lines already

    def __init__(self, definitions: Sequence[Mapping[str, str]], output: LineOutput) -> None:
        self._patterns = {d["name"]: re.compile(d["regex"]) for d in definitions}
        self._output = output
        self._warned: set[str] = set()

    def report(self, metric: MetricValue) -> None:
        pattern = self._patterns.get(metric.name)
        line = metric_line(metric.name, metric.value, pattern) if pattern else None
        if line is not None:
            self._output.line(line)
        elif metric.name not in self._warned:
            self._warned.add(metric.name)
            warn(
                "%s came through %s, but its regex matches no line mlx can print "
                "(tried %s=<number>): SageMaker will not see it; make the regex match that "
                "form" % (metric.name, metric.channel, metric.name)
            )


def metric_line(name: str, value: float, pattern: Any) -> Optional[str]:
    """``[mlx] name=value`` (or ``name: value``, ``name value``) as the pattern matches it,
    with the value in its first group; None if it matches none of these."""
    text = repr(float(value))
    for form in ("%s=%s", "%s: %s", "%s %s", "%s:%s"):
        line = "[mlx] " + form % (name, text)
        match = pattern.search(line)
        try:
            if match and float(match.group(1)) == float(value):
                return line
        except (IndexError, TypeError, ValueError):
            continue
    return None


def pump(
    source: BinaryIO, output: LineOutput, parser: MetricParser, channel: str, collector: Collector
) -> None:
    """Copy ``source`` through to ``output`` as it arrives; offer complete lines' metrics."""
    fd = source.fileno()
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        output.passthrough(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            for metric in parser.feed(line.decode("utf-8", "replace"), channel):
                collector.offer(metric)
    if pending:
        for metric in parser.feed(pending.decode("utf-8", "replace"), channel):
            collector.offer(metric)


class FileChannels:
    """The channels a script writes to files (hypertune, MLflow): the environment that
    points the script at them, and a thread that reads them while the job runs."""

    def __init__(
        self, config: Mapping[str, Any], environ: Mapping[str, str], adapter: Any = None
    ) -> None:
        names = [str(d["name"]) for d in config.get("metrics") or []]
        folder = channel_folder(config)
        self.environment: dict[str, str] = {}
        self.notes: list[str] = []
        path = config.get("hypertune_file") or environ.get(hypertune.ENV)
        if not path:  # off Vertex: the job's own file
            path = os.path.join(folder, hypertune.FILE_NAME)
            self.environment[hypertune.ENV] = path
        self.readers: list[Any] = [hypertune.HypertuneFile(str(path), names)]
        # The platform's own tracking, read back as it allows (Azure ML: ``channel_readers``).
        platform = getattr(adapter, "channel_readers", None)
        extra = platform(config, environ) if platform else []
        if extra:
            self.readers.extend(extra)
        elif environ.get(mlflow_store.ENV):  # the user's own tracking
            self.notes.append("MLflow at %s is not read back" % environ[mlflow_store.ENV])
        else:
            store = os.path.join(folder, mlflow_store.FILE_NAME)
            self.environment[mlflow_store.ENV] = mlflow_store.tracking_uri(store)
            self.readers.append(mlflow_store.MlflowStore(store, names))
        # Only node 0 reports (``metrics.make_reporters``); nothing to read without metrics.
        self.active = bool(names) and int(config.get("node_rank") or 0) == 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self, collector: Collector, interval: float = POLL_SECONDS) -> None:
        if not self.active:
            return

        def loop() -> None:
            while not self._stop.wait(interval):
                self.read(collector)

        self._thread = threading.Thread(target=loop, name="mlx-channels", daemon=True)
        self._thread.start()

    def read(self, collector: Collector, force: bool = False) -> None:
        if not self.active:
            return
        found = [m for reader in self.readers for m in reader.read(force)]
        for metric in sorted(found, key=lambda m: m.time):
            collector.offer(metric)

    def stop(self, collector: Collector) -> None:
        """Stop reading, after a last read of everything the job wrote."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.read(collector, force=True)

    def looked_at(self) -> list[str]:
        return ["stdout", "stderr", *(r.describe() for r in self.readers), *self.notes]


def channel_folder(config: Mapping[str, Any]) -> str:
    """The job's own folder for its channel files (``channels_dir``: local's job folder),
    else a new one on the node's disk; one per node, as each node's reports are its own."""
    base = config.get("channels_dir")
    rank = int(config.get("node_rank") or 0)
    if not base:
        return tempfile.mkdtemp(prefix="mlx-channels-")
    folder = str(base) if rank == 0 else os.path.join(str(base), "node-%d" % rank)
    os.makedirs(folder, exist_ok=True)
    return folder


def warn_missing(collector: Collector, channels: Sequence[str]) -> None:
    """One warning per declared metric that no channel reported."""
    for name in collector.missing():
        warn("metric %s never appeared; looked at: %s" % (name, "; ".join(channels)))


def run_collecting(
    child: subprocess.Popen[bytes],
    files: FileChannels,
    collector: Collector,
    config: Mapping[str, Any],
    outputs: tuple[LineOutput, LineOutput],
) -> int:
    """Pass the child's stdout and stderr through, collect metrics from every channel until
    it exits; its exit code."""
    parser = MetricParser(config.get("metrics") or [])
    streams = ((child.stdout, outputs[0], "stdout"), (child.stderr, outputs[1], "stderr"))
    threads = [
        threading.Thread(target=pump, args=(s, out, parser, ch, collector), daemon=True)
        for s, out, ch in streams
        if s is not None
    ]
    for thread in threads:
        thread.start()
    files.start(collector)
    for thread in threads:
        thread.join()
    code = child.wait()
    files.stop(collector)
    for output in outputs:
        output.close()
    return code


def reporters_for(config: Mapping[str, Any], adapter: Any, stdout: LineOutput) -> list[Reporter]:
    """The platform's reporters (``metrics.make_reporters``) and, where the platform reads
    metrics from the log (``metric_lines``: SageMaker), a line for each value from a file."""
    from mlx.runtime.metrics import make_reporters

    reporters = make_reporters(config, adapter)
    if config.get("metric_lines") and int(config.get("node_rank") or 0) == 0:
        reporters.append(LogLineReporter(config.get("metrics") or [], stdout))
    return reporters
