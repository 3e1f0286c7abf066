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

import json
import math
import os
import urllib.request
from collections.abc import Mapping
from typing import Any, Optional

from mlx.runtime.argv import render_args
from mlx.runtime.metrics import MetricValue, Reporter, warn
from mlx.runtime.values import trial_value

PLACED_KINDS = ("input", "output", "hp")
OUTPUT_KEYS = {"model": "model_dir", "checkpoints": "checkpoint_dir", "output": "output_dir"}


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
        elif kind == "hp":
            chosen[name] = sweep_value(space.get(name) or {}, value)
    adapted["inputs"] = inputs
    if chosen:
        ordered = {name: chosen[name] for name in space if name in chosen}
        ordered.update(chosen)
        adapted["hyperparameters"] = {**(config.get("hyperparameters") or {}), **ordered}
    return adapted


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
    return [*command[: int(at)], *render_args(hps, config.get("args_style") or "flags")]


def reporters(config: Mapping[str, Any]) -> list[Any]:
    """Azure ML's sweeps read metrics from MLflow (process 0 only: see ``adapt``): the
    image's ``mlflow`` when it has one, else MLflow's REST API at the tracking URI Azure ML
    sets in the job."""
    from mlx.runtime.metrics import mlflow_reporter

    if not (config.get("report") and config.get("metrics")):
        return []
    try:
        import mlflow  # noqa: F401  # the image's own, if any
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
    never stops the training."""

    def __init__(self, url: str, run_id: str, token: str) -> None:
        self.url, self.run_id, self.token = url, run_id, token
        self._broken = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Optional[MlflowRestReporter]:
        uri, run_id = environ.get("MLFLOW_TRACKING_URI", ""), environ.get("MLFLOW_RUN_ID", "")
        if not (uri and run_id):
            return None
        if uri.startswith("azureml://"):
            uri = "https://" + uri[len("azureml://") :]
        if not uri.startswith(("http://", "https://")):
            return None
        token = environ.get("MLFLOW_TRACKING_TOKEN") or environ.get("AZUREML_RUN_TOKEN") or ""
        url = uri.split("?", 1)[0].rstrip("/") + "/api/2.0/mlflow/runs/log-metric"
        return cls(url, run_id, token)

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
