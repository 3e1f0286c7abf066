"""The replicas of one Vertex ``CustomJobSpec`` run by the platform runner (a training job,
or one trial of a tuning job): their containers, ``CLUSTER_SPEC`` and variables, their
lines to Cloud Logging, and how the run ends (see ``runner.py`` for the rules and pages).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mlx.backends.vertex.mount import mounted_paths
from mlx.cloud.layout import split_uri
from mlx.runner.container import Container, Runtime
from mlx.runner.host import Host, Where
from mlx.runner.image_layer import image_layer
from mlx.runner.nodes import run_nodes

PORT = 2222  # the port in CLUSTER_SPEC's addresses (the documented example's)


@dataclass
class Ended:
    """How one run of a CustomJobSpec (a training job, or one trial) ended."""

    state: str  # JOB_STATE_SUCCEEDED | JOB_STATE_FAILED | JOB_STATE_CANCELLED
    error: Optional[dict[str, Any]] = None  # a google.rpc.Status as JSON
    exit_codes: list[int] = field(default_factory=list)
    primary_tmp: Optional[Path] = None  # the primary replica's /tmp, on this machine


@dataclass
class Replica:
    pool: int
    index: int
    node: int  # across pools: what mlx calls the node's rank

    @property
    def task(self) -> str:
        return f"workerpool{self.pool}-{self.index}"


def reads(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of what a job reads through the mount: the ``/gcs/`` paths its
    containers are given, and its ``baseOutputDirectory``."""
    texts: list[str] = []
    for pool in spec["workerPoolSpecs"]:
        container = pool.get("containerSpec") or {}
        texts += container.get("command") or []
        texts += container.get("args") or []
        texts += [str(e.get("value", "")) for e in container.get("env") or []]
    base = base_output(spec)
    return mounted_paths(texts) + ([split_uri(base)] if base else [])


def job_metrics(host: Host, base: Optional[str]) -> dict[str, float]:
    """Each metric's last value, from the record mlx's bootstrap keeps in the job's
    prefix (Vertex itself keeps no metrics of a CustomJob; ``VertexBackend`` reads the
    same file)."""
    from mlx.backends.local.run import parse_metrics
    from mlx.backends.vertex.layout import METRICS_NAME, STAGING

    if not base:
        return {}
    store, key = host.store(f"{base}{STAGING}/{METRICS_NAME}")
    data = store.get_bytes(key)
    return parse_metrics(data.decode("utf-8", "replace").splitlines()) if data else {}


def base_output(spec: dict[str, Any]) -> Optional[str]:
    uri = (spec.get("baseOutputDirectory") or {}).get("outputUriPrefix")
    return uri if not uri or uri.endswith("/") else uri + "/"


def run_spec(
    spec: dict[str, Any],
    job_id: str,
    host: Host,
    mounts: dict[str, Path],
    workspace: Path,
    trial: Optional[str] = None,
    trial_args: tuple[str, ...] = (),
) -> Ended:
    """Run every replica of ``spec`` to the end (or until cancelled); how it ended."""
    replicas = replica_list(spec)
    tag = hashlib.sha256(f"{job_id}/{trial}".encode()).hexdigest()[:10]
    hostnames = [f"cmle-training-workerpool{r.pool}-{tag}-{r.index}" for r in replicas]
    hosts_file = workspace / f"hosts-{trial or 'job'}"
    # The replicas' host names resolve to this machine, as each other's do on Vertex.
    hosts_file.write_text("127.0.0.1 localhost " + " ".join(hostnames) + "\n")
    cluster = cluster_of(replicas, hostnames)
    containers, tmps = [], []
    for replica, hostname in zip(replicas, hostnames):
        tmp = workspace / f"tmp-{trial or 'job'}-{replica.task}"
        tmp.mkdir(mode=0o1777)
        tmp.chmod(0o1777)
        tmps.append(tmp)
        pool = spec["workerPoolSpecs"][replica.pool]["containerSpec"]
        env = {e["name"]: str(e.get("value", "")) for e in pool.get("env") or []}
        env.update(platform_env(spec, job_id, cluster, replica, trial))
        containers.append(
            Container(
                image=pool["imageUri"],
                entrypoint=list(pool["command"]) if pool.get("command") else None,
                args=[*(pool.get("args") or []), *trial_args],
                env=env,
                mounts={
                    **mounts,
                    "/tmp": tmp,
                    "/etc/hosts": hosts_file,
                    **image_layer(host, workspace / f"opt-ml-{trial or 'job'}-{replica.task}"),
                },
                hostname=hostname,
            )
        )
    return _run(containers, replicas, host, trial, tmps[0])


def replica_list(spec: dict[str, Any]) -> list[Replica]:
    replicas: list[Replica] = []
    for pool, worker_pool in enumerate(spec["workerPoolSpecs"]):
        if not worker_pool:
            continue  # "All worker pools except the first one are optional": empty
        for index in range(int(worker_pool.get("replicaCount") or 1)):
            replicas.append(Replica(pool, index, len(replicas)))
    return replicas


def cluster_of(replicas: list[Replica], hostnames: list[str]) -> dict[str, list[str]]:
    cluster: dict[str, list[str]] = {}
    for replica, hostname in zip(replicas, hostnames):
        cluster.setdefault(f"workerpool{replica.pool}", []).append(f"{hostname}:{PORT}")
    return cluster


def platform_env(
    spec: dict[str, Any],
    job_id: str,
    cluster: dict[str, list[str]],
    replica: Replica,
    trial: Optional[str],
) -> dict[str, str]:
    """What Vertex sets in a replica's environment (see the module's docstring)."""
    task: dict[str, Any] = {"type": f"workerpool{replica.pool}", "index": replica.index}
    if trial is not None:
        task["trial"] = trial
    cluster_spec = {"cluster": cluster, "environment": "cloud", "task": task, "job": spec}
    env = {"CLUSTER_SPEC": json.dumps(cluster_spec), "CLOUD_ML_JOB_ID": job_id}
    base = base_output(spec)
    if base:
        env["AIP_MODEL_DIR"] = base + "model/"
        env["AIP_CHECKPOINT_DIR"] = base + "checkpoints/"
        env["AIP_TENSORBOARD_LOG_DIR"] = base + "logs/"
    if trial is not None:
        # cloudml-hypertune labels each report with it (hypertune/hypertune.py).
        env["CLOUD_ML_TRIAL_ID"] = trial
    return env


def _run(
    containers: list[Container],
    replicas: list[Replica],
    host: Host,
    trial: Optional[str],
    primary_tmp: Path,
) -> Ended:
    stop = threading.Event()
    runtime = _Tracking(host.runtime)
    first_exit: list[tuple[int, int]] = []  # (node, code) of the replica that decided

    def sink(node: int, channel: str, text: str, when: float) -> None:
        where = Where(node, replicas[node].task, trial, channel)
        host.line(where, text, when)

    def watch() -> None:
        while not stop.wait(0.1):
            if host.cancelled.is_set():
                stop.set()
                return
            for node, code in runtime.exits():
                if code != 0 or node == 0:  # a failure, or the primary's success
                    first_exit.append((node, code))
                    stop.set()
                    break

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if trial is None:
        host.event("running", {"state": "JOB_STATE_RUNNING"})
    codes = run_nodes(containers, runtime, sink, stop)
    stop.set()
    watcher.join()
    decided = first_exit[0] if first_exit else None
    if decided is None and host.cancelled.is_set():
        error = {"code": 1, "message": "CANCELLED"}
        return Ended("JOB_STATE_CANCELLED", error, codes, primary_tmp)
    node, code = decided if decided is not None else (0, codes[0])
    if code == 0:
        return Ended("JOB_STATE_SUCCEEDED", None, codes, primary_tmp)
    message = (
        f"The replica {replicas[node].task} exited with a non-zero status of {code}. "
        "Termination reason: Error."
    )
    return Ended("JOB_STATE_FAILED", {"code": 3, "message": message}, codes, primary_tmp)


class _Tracking:
    """The host's runtime, keeping the processes it starts so their exits can be seen as
    they happen (``run_nodes`` waits for all of them)."""

    def __init__(self, inner: Runtime) -> None:
        self.inner = inner
        self.name = inner.name
        self.note = inner.note
        self.processes: list[Any] = []
        self._reported: set[int] = set()

    def start(self, container: Container) -> Any:
        process = self.inner.start(container)
        self.processes.append(process)
        return process

    def exits(self) -> list[tuple[int, int]]:
        """(node, exit code) of the replicas that exited since the last call."""
        found = []
        for node, process in enumerate(list(self.processes)):
            code = process.poll()
            if code is not None and node not in self._reported:
                self._reported.add(node)
                found.append((node, code))
        return found


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def rfc3339(when: Optional[float] = None) -> str:
    """A time as the REST API writes it."""
    stamp = time.time() if when is None else when
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e6):06d}Z"
