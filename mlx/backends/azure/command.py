"""A command job (or a sweep's trial) run the way Azure ML runs it, on this machine, for the
Azure ML platform runner (``runner``).

The request is the job as an Azure ML v2 job document (what ``mlx translate`` prints and
``load_job`` reads), with ``code`` and every data path a URI the host's stores hold (the
code snapshot azure-ai-ml uploaded). Per the CLI v2 command job reference
(https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command):

- ``code``: "the source code directory to be uploaded and used for the job"; the snapshot
  is downloaded to every node and ``command`` runs in it;
- ``command``: run by a shell in ``environment``'s image, after Azure substitutes the
  ``${{inputs.<name>}}`` (a data input's mounted path or a literal input's text) and
  ``${{outputs.<name>}}`` expressions (its mounted path), and, in a sweep's trial,
  ``${{search_space.<name>}}`` (the trial's value); ``${{name}}`` is "the job name", resolved
  at execution time, in output paths too
  (https://learn.microsoft.com/azure/machine-learning/concept-expressions);
- ``inputs.<name>.mode``: ``ro_mount``/``download`` (the data is there before the command
  starts; a mount is served as a download here), ``outputs.<name>.mode``: ``rw_mount``/
  ``upload`` (what the job wrote lands at the output's datastore path);
- ``environment_variables`` are set in the job, as are Azure's own (``AZUREML_RUN_ID``,
  ``MLFLOW_TRACKING_URI``, ``MLFLOW_RUN_ID``: ``tracking``);
- ``resources.instance_count`` nodes; ``distribution`` (``distribute.py``) says how many
  processes each node starts and with which variables;
- ``limits.timeout``: "the maximum time in seconds the job is allowed to run".

Each process writes ``user_logs/std_log_process_<rank>.txt`` (``user_logs/std_log.txt`` for
a job of one process) under the run's artifacts, stdout and stderr together
(https://learn.microsoft.com/azure/machine-learning/how-to-log-view-metrics, "View and
download diagnostic logs": ``user_logs`` holds ``std_log.txt``/``std_log_process_<N>.txt``).
The paths inside the container (``/mnt/azureml/cr/j/<id>/exe/wd``, ``.../cap/data-capability/
wd/<name>``) are those Azure ML jobs print; scripts should use the substituted values.

Sweeps are in ``runner_sweep``; the MLflow endpoint the jobs log to in ``tracking``.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mlx.backends.azure.distribute import processes
from mlx.backends.azure.tracking import Tracking
from mlx.cloud.objects import upload_tree
from mlx.runner.container import Container
from mlx.runner.host import Host, Where, fetch
from mlx.runner.image_layer import image_layer
from mlx.runner.nodes import run_nodes

RUN_TOKEN = "mlx-rehearsal-run-token"  # the job's own token (AZUREML_RUN_TOKEN) stand-in
_EXPRESSION = re.compile(r"\$\{\{\s*([A-Za-z_]+)(?:\.([A-Za-z0-9_]+))?\s*\}\}")


def job_root(name: str) -> str:
    return f"/mnt/azureml/cr/j/{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"


@dataclass
class Ran:
    """How one command job (or trial) ended, in Azure's words."""

    status: str  # "Completed" | "Failed" | "Canceled"
    error: Optional[str] = None
    exit_codes: list[int] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # name -> datastore URI


_STATES = {"Completed": "succeeded", "Failed": "failed", "Canceled": "cancelled"}


def state_of(status: str) -> str:
    return _STATES[status]


def run_command(
    job: dict[str, Any],
    host: Host,
    tracking: Tracking,
    name: str,
    *,
    values: Optional[dict[str, Any]] = None,
    trial: Optional[str] = None,
    timeout: Optional[float] = None,
) -> Ran:
    """Run command job ``job`` as run ``name`` (a trial: ``trial`` too, and the sweep's
    ``values`` for ``${{search_space.*}}``) to its end; upload its outputs."""
    folder = host.workspace / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    root = job_root(name)
    mounts: dict[str, Path] = {}
    texts: dict[tuple[str, str], str] = {("name", ""): name}
    for key, value in (values or {}).items():
        texts[("search_space", key)] = str(value)
    for key, value in (job.get("inputs") or {}).items():
        place = _input(host, key, value, folder / "inputs" / key, f"{root}/cap/data-capability/wd")
        if isinstance(place, str):
            texts[("inputs", key)] = place
        else:
            mounts[place[0]] = place[1]
            texts[("inputs", key)] = place[0]
    outputs = _outputs(job, name)
    for key in outputs:
        path = f"{root}/cap/data-capability/wd/{key}"
        mounts[path] = _made(folder / "outputs" / key)
        texts[("outputs", key)] = path
    code = _code(host, job.get("code"), folder / "snapshot")
    command = substitute(str(job["command"]), texts)
    env = {str(k): str(v) for k, v in (job.get("environment_variables") or {}).items()}
    env.update(
        AZUREML_RUN_ID=name,
        AZUREML_RUN_TOKEN=RUN_TOKEN,
        MLFLOW_TRACKING_URI=tracking.uri,
        MLFLOW_RUN_ID=name,
    )
    containers, places = [], []
    for place in processes(job):
        node_code = _copy(code, folder / f"node-{place.node}" / "wd")
        containers.append(
            Container(
                image=_image(job),
                # The command is a shell command line (it uses $(...), quotes, exec).
                entrypoint=["/bin/sh", "-c", command],
                env={**env, **place.env},
                mounts={
                    f"{root}/exe/wd": node_code,
                    **mounts,
                    **image_layer(host, folder / f"node-{place.node}" / "opt-ml"),
                },
                workdir=f"{root}/exe/wd",
            )
        )
        places.append(place)
    one = len(places) == 1
    stop, timed_out = _stopper(host.cancelled, timeout)

    def sink(index: int, channel: str, text: str, at: float) -> None:
        place = places[index]
        stream = "user_logs/std_log.txt" if one else f"user_logs/std_log_process_{place.rank}.txt"
        host.line(Where(place.node, stream, trial, channel), text, at)

    try:
        codes = run_nodes(containers, host.runtime, sink, stop)
    finally:
        stop.set()  # ends the watcher
    uploaded = _upload(host, outputs, folder / "outputs")
    metrics = tracking.final(name)
    if host.cancelled.is_set():
        return Ran("Canceled", None, codes, metrics, uploaded)
    if timed_out.is_set():
        reason = f"the job ran past its limits.timeout of {timeout:g} s and was stopped"
        return Ran("Failed", reason, codes, metrics, uploaded)
    failed = next((i for i, code in enumerate(codes) if code != 0), None)
    if failed is not None:
        # Azure's message for a failed user process (its wording, as Studio shows it).
        log = "user_logs/std_log.txt" if one else f"user_logs/std_log_process_{failed}.txt"
        reason = (
            f"Execution failed. User process exited with status code {codes[failed]}. "
            f"Please check log file '{log}' for error details."
        )
        return Ran("Failed", reason, codes, metrics, uploaded)
    return Ran("Completed", None, codes, metrics, uploaded)


def substitute(command: str, texts: dict[tuple[str, str], str]) -> str:
    """``${{inputs.x}}``, ``${{outputs.x}}``, ``${{search_space.x}}``, ``${{name}}`` replaced
    by their text; an expression the job does not define stays as written."""

    def one(match: re.Match[str]) -> str:
        return texts.get((match[1], match[2] or ""), match[0])

    return _EXPRESSION.sub(one, command)


def _input(host: Host, key: str, value: Any, target: Path, base: str) -> Any:
    """A literal input's text, or ``(container path, host path)`` of a data input, which
    is downloaded before the command starts (``ro_mount``, ``download``, ``rw_mount``): "a
    folder will be mounted as a folder and a file will be mounted as a file" (job inputs,
    ``mode``, in the CLI v2 command job reference)."""
    if not isinstance(value, dict):
        return _literal(value)
    if "path" not in value:
        return _literal(value.get("value"))
    store, prefix = host.store(str(value["path"]))
    target.mkdir(parents=True, exist_ok=True)
    fetch(store, prefix, target)
    folder = f"{base}/INPUT_{key}"
    if value.get("type") == "uri_file":  # the expression names the file, mounted as a file
        name = prefix.rsplit("/", 1)[-1]
        return (f"{folder}/{name}", target / name)
    return (folder, target)


def _literal(value: Any) -> str:
    return str(value)


def _outputs(job: dict[str, Any], name: str) -> dict[str, str]:
    """Output name -> its datastore URI with ``${{name}}`` resolved. An output without a
    path goes where Azure ML puts it by default (``azureml/<job>/<output>/`` on the
    workspace's default datastore); ``default`` is the run's own artifact store, not a
    folder the command writes."""
    found = {}
    for key, output in (job.get("outputs") or {}).items():
        if key == "default" or output is None:
            continue
        path = output.get("path") if isinstance(output, dict) else None
        path = path or f"azureml://datastores/workspaceblobstore/paths/azureml/{name}/{key}/"
        found[key] = substitute(str(path), {("name", ""): name})
    return found


def _upload(host: Host, outputs: dict[str, str], folder: Path) -> dict[str, str]:
    for key, uri in outputs.items():
        source = folder / key
        if any(source.rglob("*")):
            store, prefix = host.store(uri)
            upload_tree(store, source, prefix if prefix.endswith("/") else prefix + "/")
    return outputs


def _code(host: Host, code: Any, target: Path) -> Path:
    """The code snapshot, downloaded once (an empty folder when the job has none)."""
    target.mkdir(parents=True, exist_ok=True)
    if code:
        store, prefix = host.store(str(code))
        fetch(store, prefix if prefix.endswith("/") else prefix + "/", target)
    return target


def _copy(source: Path, target: Path) -> Path:
    """Every node works in its own copy of the snapshot, as on its own VM."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True)
    return target


def _image(job: dict[str, Any]) -> str:
    environment = job.get("environment")
    if isinstance(environment, dict):
        return str(environment.get("image") or "")
    return str(environment or "")


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stopper(
    cancelled: threading.Event, timeout: Optional[float]
) -> tuple[threading.Event, threading.Event]:
    """An event set when the job is cancelled or runs past ``timeout``, and one that says
    the timeout did it."""
    stop, timed_out = threading.Event(), threading.Event()
    deadline = time.monotonic() + timeout if timeout else None

    def watch() -> None:
        while not stop.is_set():
            if cancelled.wait(0.1):
                stop.set()
            elif deadline is not None and time.monotonic() > deadline:
                timed_out.set()
                stop.set()

    threading.Thread(target=watch, name="azure-job-watch", daemon=True).start()
    return stop, timed_out
