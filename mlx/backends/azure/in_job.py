"""Azure ML inside the job: the values Azure substitutes into the bootstrap's command line.

Standard library only (Python 3.8+): the bootstrap zipapp carries it as this provider's
platform adapter (``Provider.runtime_adapter``; see ``mlx.runtime.bootstrap``).

Azure ML decides where a job's data is mounted and says so only by substituting
``${{inputs.<name>}}`` and ``${{outputs.<name>}}`` into the command, and a sweep trial's
values by substituting ``${{search_space.<name>}}``. mlx renders them as bootstrap options::

    --input 'train=${{inputs.train}}' --output 'model=${{outputs.model}}'
    --hp 'lr=${{search_space.lr}}'

``apply_placed`` folds them into the runtime config, so the contract (``MLX_INPUT_TRAIN``,
``MLX_MODEL_DIR``) and the one argv rule see them exactly as on every other platform.

The script's argv follows ``--`` in the command, hyperparameters included (the job shows
what the script receives). In a trial, the searched values stand there as Azure encoded
them; ``adapt_job`` renders the words from ``hyperparameters_at`` on again, with the
decoded values.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Optional

from mlx.runtime.argv import render_configured
from mlx.runtime.metrics import MetricValue, Reporter, warn
from mlx.runtime.values import trial_value

PLACED_KINDS = ("input", "output", "hp")
OUTPUT_KEYS = {"model": "model_dir", "checkpoints": "checkpoint_dir", "output": "output_dir"}
# mlx's record of the job's metrics (``metrics.JsonLinesReporter``'s lines), in the job's
# ``output`` output, where ``AzureBackend.status`` reads it once the job has ended; not an
# artifact (``list_artifacts`` leaves ``output/.mlx/`` out).
METRICS_DIR = ".mlx/"
METRICS_FILE = METRICS_DIR + "metrics.jsonl"


def sweep_value(param: Mapping[str, Any], raw: str) -> Any:
    """A value Azure's sweep substituted, as the spec's value (the inverse of its rendering).

    ``encoding`` says how mlx rendered the parameter: ``index`` (a choice whose values are
    not safe as bare command-line text is sampled by position), ``exp`` (Bayesian sampling
    has no log scale, so mlx samples the natural log and the value is ``exp`` of it).
    """
    encoding, kind = param.get("encoding"), param.get("type")
    if encoding == "index":
        return param["values"][int(float(raw))]
    if kind not in ("int", "float"):
        return trial_value(param, raw)  # the spec's own value that matches the text
    number = math.exp(float(raw)) if encoding == "exp" else float(raw)
    if "min" in param and "max" in param:
        # exp(ln x) may miss x by an ulp; quniform over [min - 0.5, max + 0.5] may round
        # half an edge outwards.
        number = min(max(number, float(param["min"])), float(param["max"]))
    return round(number) if kind == "int" else number  # quniform's ints come as "3.0"


def apply_placed(config: Mapping[str, Any], placed: list[tuple[str, str, str]]) -> dict:
    """The runtime config with ``(kind, name, value)`` options folded in: input paths,
    output dirs, and a trial's values merged over the static hyperparameters in the search
    space's order (as the local tuner merges them)."""
    adapted = dict(config)
    inputs = dict(config.get("inputs") or {})
    space = config.get("search_space") or {}
    chosen = {}
    for kind, name, value in placed:
        if kind == "input":
            inputs[name] = value
        elif kind == "output" and name in OUTPUT_KEYS:
            adapted[OUTPUT_KEYS[name]] = value
            if name == "output" and config.get("metrics"):
                adapted.update(metrics_record(value))
        elif kind == "hp":
            chosen[name] = sweep_value(space.get(name) or {}, value)
    adapted["inputs"] = inputs
    if chosen:
        ordered = {name: chosen[name] for name in space if name in chosen}
        ordered.update(chosen)
        adapted["hyperparameters"] = {**(config.get("hyperparameters") or {}), **ordered}
    return adapted


def metrics_record(output: str) -> dict[str, Any]:
    """Where the bootstrap keeps mlx's metrics record: ``METRICS_FILE`` in the ``output``
    output's folder, a read-write mount (``rw_mount``). Azure ML's mounts are a FUSE
    filesystem of its data runtime, whose unmount "(gracefully) finish[es] all pending
    operations (for example, flush calls)" (``DATASET_UNMOUNT_TIMEOUT_SECONDS`` under
    "Available mount settings", https://learn.microsoft.com/azure/machine-learning/
    how-to-read-write-data-v2); the page does not say a file reaches storage before it is
    flushed or closed. So the record is written as on Vertex's mount, as whole copies of a
    local file (``metrics.MountedJsonLinesReporter``), each closed: a job killed outright
    loses at most its last few seconds of reports."""
    return {"metrics_file": os.path.join(output, METRICS_FILE), "metrics_file_on_mount": True}


def adapt(config: Mapping[str, Any], environ: Mapping[str, str]) -> dict:
    """This process's place in the job. With ``distribution: pytorch`` Azure ML starts
    ``process_count_per_instance`` processes per node and sets ``NODE_RANK`` (the node) and
    ``RANK`` (the process, across nodes); only process 0 reports metrics."""
    adapted = dict(config)
    if environ.get("NODE_RANK", "").isdigit():
        adapted["node_rank"] = int(environ["NODE_RANK"])
    if environ.get("RANK", "0") not in ("", "0"):
        adapted.pop("report", None)
    return adapted


def adapt_job(
    config: Mapping[str, Any], command: list[str], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The platform adapter's entry (see ``bootstrap.platform_adapter``): ``adapt``, and a
    trial's argv with its decoded values (``trial_command``)."""
    return adapt(config, environ), trial_command(config, command)


def trial_command(config: Mapping[str, Any], command: list[str]) -> list[str]:
    """A sweep trial's command with the words from ``hyperparameters_at`` on rendered
    again from the hyperparameters ``apply_placed`` merged (static and decoded values, in
    the local tuner's order); any other command as it came."""
    at = config.get("hyperparameters_at")
    if at is None or not config.get("search_space"):
        return command
    hps = config.get("hyperparameters") or {}
    return [*command[: int(at)], *render_configured(config, hps)]


def reporters(config: Mapping[str, Any]) -> list[Any]:
    """Azure ML's sweeps read metrics from MLflow (process 0 only: see ``adapt``): the
    image's ``mlflow`` when it has Azure's plugin too, else MLflow's REST API at the
    tracking URI Azure ML sets in the job. (mlflow alone cannot reach an ``azureml://``
    tracking URI or send the job's token: that is ``azureml-mlflow``'s part, "pip install
    mlflow azureml-mlflow", https://learn.microsoft.com/azure/machine-learning/
    how-to-use-mlflow-configure-tracking.)"""
    from mlx.runtime.metrics import mlflow_reporter

    if not (config.get("report") and config.get("metrics")):
        return []
    try:  # the image's own, if any
        importlib.import_module("azureml.mlflow")
        importlib.import_module("mlflow")
    except ImportError:
        rest = MlflowRestReporter.from_environment(os.environ)
        if rest is not None:
            return [rest]
    reporter = mlflow_reporter(config.get("objective"))
    return [reporter] if reporter else []


class MlflowRestReporter(Reporter):
    """Metrics logged through MLflow's REST API (``POST <tracking URI>/api/2.0/mlflow/runs/
    log-metric``: https://mlflow.org/docs/latest/rest-api.html#log-metric) on the run Azure ML
    names in ``MLFLOW_RUN_ID``, for images without mlflow. Azure ML sets
    ``MLFLOW_TRACKING_URI`` and ``MLFLOW_RUN_ID`` in every job
    (https://github.com/Azure/azure-sdk-for-python/issues/38813); its ``azureml://`` tracking
    URI is the workspace's https endpoint (azureml-mlflow rewrites the scheme), which takes
    the job's own token (``AZUREML_RUN_TOKEN``) as a bearer. A failing call warns once and
    never stops the training. What the script logged with MLflow itself is there already
    (``skips``)."""

    skips = ("mlflow",)

    def __init__(self, url: str, run_id: str, token: str) -> None:
        self.url, self.run_id, self.token = url, run_id, token
        self._broken = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Optional[MlflowRestReporter]:
        found = tracking_api(environ)
        return None if found is None else cls(found[0] + "/runs/log-metric", *found[1:])

    def report(self, metric: MetricValue) -> None:
        if self._broken:
            return
        body = {
            "run_id": self.run_id,
            "key": metric.name,
            "value": metric.value,
            "timestamp": int(metric.time * 1000),
            "step": metric.step or 0,
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer " + self.token},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()
        except Exception as e:  # any failure of the tracking service: the job goes on
            self._broken = True
            warn("logging metrics to MLflow failed, no more are sent: %s" % (e,))


def tracking_api(environ: Mapping[str, str]) -> Optional[tuple[str, str, str]]:
    """``(<tracking URI>/api/2.0/mlflow, run id, token)`` of the run Azure ML names in the
    job's environment (see ``MlflowRestReporter``), or None outside Azure ML."""
    uri, run_id = environ.get("MLFLOW_TRACKING_URI", ""), environ.get("MLFLOW_RUN_ID", "")
    if not (uri and run_id):
        return None
    if uri.startswith("azureml://"):
        uri = "https://" + uri[len("azureml://") :]
    if not uri.startswith(("http://", "https://")):
        return None
    token = environ.get("MLFLOW_TRACKING_TOKEN") or environ.get("AZUREML_RUN_TOKEN") or ""
    return uri.split("?", 1)[0].rstrip("/") + "/api/2.0/mlflow", run_id, token


def channel_readers(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[Any]:
    """The MLflow channel on Azure ML: the platform's tracking stays in place (the script's
    ``mlflow.log_metric`` goes to the job's run), and the bootstrap reads that run back."""
    found = tracking_api(environ)
    names = [str(m["name"]) for m in config.get("metrics") or []]
    return [] if found is None else [MlflowRunReader(*found, names=names)]


class MlflowRunReader:
    """What the job's MLflow run holds of the spec's metrics (``GET <api>/runs/get``: the run's
    ``data.metrics``, each metric's latest value with its ``timestamp`` in milliseconds and
    ``step``; https://mlflow.org/docs/latest/rest-api.html#get-run), read once, at the end of
    the job (``force``), not polled: every call is one to the workspace."""

    channel = "mlflow"

    def __init__(self, api: str, run_id: str, token: str, names: list[str]) -> None:
        self.api, self.run_id, self.token, self._names = api, run_id, token, set(names)

    def describe(self) -> str:
        return "MLflow run %s (Azure ML's tracking)" % self.run_id

    def read(self, force: bool = False) -> list[MetricValue]:
        if not force:
            return []
        query = urllib.parse.urlencode({"run_id": self.run_id})
        request = urllib.request.Request(
            "%s/runs/get?%s" % (self.api, query), headers={"Authorization": "Bearer " + self.token}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                run = json.loads(answer.read()).get("run") or {}
            metrics = (run.get("data") or {}).get("metrics") or []
            return [_run_metric(m) for m in metrics if m.get("key") in self._names]
        except Exception as e:  # the tracking service failing must not fail the job
            warn("reading the job's MLflow run failed: %s" % (e,))
            return []


def _run_metric(entry: Mapping[str, Any]) -> MetricValue:
    when = float(entry.get("timestamp") or 0) / 1000.0
    step = int(entry.get("step") or 0) or None
    return MetricValue(str(entry["key"]), float(entry["value"]), step, when, "mlflow")
