"""SageMaker's platform runner: a ``CreateTrainingJob`` request run as SageMaker runs it.

Each behaviour cites its source. The pages, in short:

- RUNNING: "How Amazon SageMaker AI Provides Training Information",
  https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html
  (hyperparameters.json with string values, TRAINING_JOB_NAME / TRAINING_JOB_ARN,
  inputdataconfig.json, input/data/<channel>/, resourceconfig.json, algo-N host names);
- IMAGE: "How Amazon SageMaker AI Runs Your Training Image",
  https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-dockerfile.html
  (``docker run IMAGE train``, or ContainerEntrypoint + ContainerArguments);
- OUTPUT: "How Amazon SageMaker AI Processes Training Output",
  https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html
  (/opt/ml/model uploaded, /opt/ml/output/failure -> FailureReason, exit code -> status),
  with OutputDataConfig.CompressionType (https://docs.aws.amazon.com/sagemaker/latest/
  APIReference/API_OutputDataConfig.html: None = an uncompressed model, file by file);
- CHECKPOINTS: https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints.html
  ("Existing checkpoints in S3 are written to the SageMaker AI container at the start of the
  job"; new ones are written to S3 during training), on every instance
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints-resume.html);
- LOGS: https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html (group
  /aws/sagemaker/TrainingJobs, stream ``<job>/algo-<n>-<epoch>``);
- TENSORBOARD: https://docs.aws.amazon.com/sagemaker/latest/APIReference/
  API_TensorBoardOutputConfig.html (LocalPath, default /opt/ml/output/tensorboard, to
  S3OutputPath), copied while the job runs as users of it report (aws/amazon-sagemaker-
  examples#3620: "copied to my s3 bucket in real-time"), like checkpoints;
- METRICS: https://docs.aws.amazon.com/sagemaker/latest/dg/training-metrics.html
  (MetricDefinitions regexes applied to the job's log: stdout and stderr).

The sandbox stands in for the image, so what only the image knows is stated by whoever
hosts the run (``SandboxImage``): whether it has the training toolkit's ``train``, its
WORKDIR, the files it ships. With the Docker runtime the real image decides all three.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mlx.cloud.layout import split_uri
from mlx.runner.container import Container
from mlx.runner.host import Host, Outcome, Where, fetch
from mlx.runner.nodes import run_nodes

ML = "/opt/ml"
CHECKPOINTS = "/opt/ml/checkpoints"  # CheckpointConfig.LocalPath's default (API_CheckpointConfig)
TOOLKIT_TRAIN = "/usr/local/bin/train"  # where `pip install sagemaker-training` puts it
S3_MIRROR = "/.sagemaker-s3"  # toolkit_stand_in.S3_MIRROR
SYNC_EVERY = 1.0  # seconds between checkpoint uploads while the job runs
STATES = {"Completed": "succeeded", "Failed": "failed", "Stopped": "cancelled"}


@dataclass(frozen=True)
class SandboxImage:
    """What the sandbox must be told about the image it stands in for.

    Attributes:
        toolkit: the image has the SageMaker training toolkit (``train`` on its PATH).
        workdir: its WORKDIR (None: ``/``).
        files: container path -> host folder: what the image ships (``/opt/ml/code``...).
        env: its ENV (the request's Environment wins, as ``docker run --env`` does).
    """

    toolkit: bool = True
    workdir: Optional[str] = None
    files: dict[str, Path] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Node:
    rank: int
    host: str
    folder: Path  # the node's /opt/ml/{input,model,output} and checkpoints, on this host

    def path(self, container_path: str) -> Path:
        return self.folder / container_path.strip("/")


class SageMakerRunner:
    """Runs ``CreateTrainingJob`` / ``CreateHyperParameterTuningJob`` requests."""

    def __init__(
        self,
        image: Optional[SandboxImage] = None,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.image = image or SandboxImage()
        self.region = region
        self.account = account

    # -- a training job --------------------------------------------------------------------

    def run_training(self, request: dict[str, Any], host: Host) -> Outcome:
        outcome = self.train(request, host)
        host.event("ended", _ended(request["TrainingJobName"], outcome))
        return outcome

    def run_tuning(self, request: dict[str, Any], host: Host) -> Outcome:
        from mlx.backends.sagemaker.runner_tuning import run_tuning

        return run_tuning(self, request, host)

    def train(self, request: dict[str, Any], host: Host, trial: Optional[str] = None) -> Outcome:
        """Run one training job (a trial's too) to its end; its outcome, no ended event."""
        name = request["TrainingJobName"]
        count = int(request["ResourceConfig"]["InstanceCount"])
        hosts = ["algo-%d" % (i + 1) for i in range(count)]  # RUNNING: algo-1 ... algo-N
        nodes = [Node(i, h, host.workspace / name / h) for i, h in enumerate(hosts)]
        checkpoints = request.get("CheckpointConfig")
        for node in nodes:
            self._prepare(request, node, hosts, host)
        containers = [self._container(request, node, _sandboxed(host)) for node in nodes]
        host.event("running", {"name": name, "trial": trial})
        epoch = int(time.time())
        streams = [f"{name}/{node.host}-{epoch}" for node in nodes]  # LOGS
        log: list[tuple[float, str]] = []
        lock = threading.Lock()

        def sink(node: int, channel: str, text: str, ts: float) -> None:
            with lock:
                log.append((ts, text))
            host.line(Where(node, streams[node], trial, channel), text, ts)

        syncing = _CheckpointSync(checkpoints, nodes, host) if checkpoints else None
        tensorboard = _tensorboard_upload(request)
        board = _CheckpointSync(tensorboard, nodes, host) if tensorboard else None
        try:
            codes = run_nodes(containers, host.runtime, sink, host.cancelled)
        finally:
            for sync in (syncing, board):
                if sync:
                    sync.stop()
        status = _status(codes, host.cancelled.is_set())
        reason = None if status != "Failed" else _failure_reason(nodes, codes)
        artifacts = self._upload(request, nodes, host)
        metrics = final_metrics(request["AlgorithmSpecification"], [t for _, t in sorted(log)])
        return Outcome(STATES[status], reason, codes, metrics, artifacts_uri=artifacts)

    # -- the node's /opt/ml (RUNNING) --------------------------------------------------------

    def _prepare(self, request: dict[str, Any], node: Node, hosts: list[str], host: Host) -> None:
        config = node.path(f"{ML}/input/config")
        config.mkdir(parents=True)
        for sub in ("model", "output/data"):
            node.path(f"{ML}/{sub}").mkdir(parents=True)
        # Hyperparameters as the request has them: a JSON object of strings.
        _write_json(config / "hyperparameters.json", request.get("HyperParameters") or {})
        resources = request["ResourceConfig"]
        _write_json(
            config / "resourceconfig.json",
            {
                "current_host": node.host,
                "current_instance_type": resources["InstanceType"],
                "current_group_name": "homogeneousCluster",
                "hosts": hosts,
                "instance_groups": [
                    {
                        "instance_group_name": "homogeneousCluster",
                        "instance_type": resources["InstanceType"],
                        "hosts": hosts,
                    }
                ],
                "network_interface_name": "eth0",
            },
        )
        channels = request.get("InputDataConfig") or []
        data_config = {}
        for channel in channels:
            source = channel["DataSource"]["S3DataSource"]
            data_config[channel["ChannelName"]] = {
                "TrainingInputMode": request["AlgorithmSpecification"]["TrainingInputMode"],
                "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
            # File mode: the channel's S3 prefix is downloaded before the container starts.
            store, key = host.store(source["S3Uri"])
            target = node.path(f"{ML}/input/data/{channel['ChannelName']}")
            target.mkdir(parents=True)
            fetch(store, key, target)
        _write_json(config / "inputdataconfig.json", data_config)
        checkpoints = request.get("CheckpointConfig")
        local = node.path(_local_checkpoints(checkpoints))
        local.mkdir(parents=True, exist_ok=True)
        tensorboard = _tensorboard_upload(request)
        if tensorboard:
            node.path(tensorboard["LocalPath"]).mkdir(parents=True, exist_ok=True)
        if checkpoints:  # CHECKPOINTS: restored on every instance at the start
            store, key = host.store(checkpoints["S3Uri"])
            fetch(store, key, local)
        # Multi-node jobs reach each other by host name (RUNNING: "algo-1", ...); the nodes
        # of a run here are this machine.
        etc_hosts = node.folder / "hosts"
        lines = ["127.0.0.1 localhost", *(f"127.0.0.1 {h}" for h in hosts)]
        etc_hosts.write_text("\n".join(lines) + "\n")
        self._image_files(request, node, host)

    def _image_files(self, request: dict[str, Any], node: Node, host: Host) -> None:
        """What the sandbox's stand-in image holds, copied per node (a container's files are
        its own): the image's files, the toolkit's ``train``, the toolkit's S3 reads."""
        if not _sandboxed(host):
            return
        for path, source in self.image.files.items():
            shutil.copytree(source, node.path(f"/image{path}"))
        if not self.image.toolkit:
            return
        train = node.folder / "train"
        shutil.copyfile(Path(__file__).with_name("toolkit_stand_in.py"), train)
        train.chmod(0o755)
        own = request.get("HyperParameters") or {}
        submit = _json_or_text(own.get("sagemaker_submit_directory"))
        if isinstance(submit, str) and submit.startswith("s3://"):
            store, key = host.store(submit)
            target = node.path(f"/s3/{split_uri(submit)[0]}/{key}")
            target.parent.mkdir(parents=True, exist_ok=True)
            store.download(key, target, lambda n: None)

    def _container(self, request: dict[str, Any], node: Node, sandboxed: bool) -> Container:
        spec = request["AlgorithmSpecification"]
        env = {
            **(self.image.env if sandboxed else {}),
            **(request.get("Environment") or {}),
            "TRAINING_JOB_NAME": request["TrainingJobName"],  # RUNNING
            "TRAINING_JOB_ARN": self.arn(request["TrainingJobName"]),
        }
        mounts = {
            f"{ML}/input": node.path(f"{ML}/input"),
            f"{ML}/model": node.path(f"{ML}/model"),
            f"{ML}/output": node.path(f"{ML}/output"),
            "/etc/hosts": node.folder / "hosts",
        }
        local = _local_checkpoints(request.get("CheckpointConfig"))
        mounts[local] = node.path(local)
        tensorboard = _tensorboard_upload(request)
        if tensorboard:
            mounts[tensorboard["LocalPath"]] = node.path(tensorboard["LocalPath"])
        if sandboxed:  # the stand-in image (SandboxImage)
            for path in self.image.files:
                mounts[path] = node.path(f"/image{path}")
            if self.image.toolkit:
                mounts[TOOLKIT_TRAIN] = node.folder / "train"
            if (node.folder / "s3").is_dir():
                mounts[S3_MIRROR] = node.folder / "s3"
        # IMAGE: ContainerEntrypoint replaces the image's entrypoint, with ContainerArguments
        # after it; without one SageMaker runs `docker run IMAGE train`.
        entrypoint = spec.get("ContainerEntrypoint")
        args = spec.get("ContainerArguments") or ([] if entrypoint else ["train"])
        return Container(
            image=spec["TrainingImage"],
            entrypoint=list(entrypoint) if entrypoint else None,
            args=list(args),
            env=env,
            mounts=mounts,
            workdir=self.image.workdir if sandboxed else None,
            hostname=node.host,
        )

    def arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:training-job/{name.lower()}"

    # -- outputs (OUTPUT) ------------------------------------------------------------------

    def _upload(self, request: dict[str, Any], nodes: list[Node], host: Host) -> str:
        """/opt/ml/model to ``<S3OutputPath>/<job>/output/model/`` (CompressionType None) or
        ``.../output/model.tar.gz``; /opt/ml/output/data to ``.../output/output.tar.gz``.
        Every instance's model dir goes to that one place."""
        from mlx.cloud.objects import upload_tree

        output = request["OutputDataConfig"]
        base = output["S3OutputPath"].rstrip("/") + f"/{request['TrainingJobName']}/output/"
        store, key = host.store(base)
        compression = output.get("CompressionType", "GZIP")
        for node in nodes:
            model = node.path(f"{ML}/model")
            if compression == "NONE":
                upload_tree(store, model, key + "model/")
        if compression != "NONE":
            store.put_bytes(key + "model.tar.gz", _tar([n.path(f"{ML}/model") for n in nodes]))
        data = [n.path(f"{ML}/output/data") for n in nodes]
        if any(any(d.iterdir()) for d in data):
            store.put_bytes(key + "output.tar.gz", _tar(data))
        return base  # model/..., output.tar.gz: the names pull-artifacts shows for them


class _CheckpointSync:
    """CHECKPOINTS: each node's LocalPath copied to S3Uri while the job runs, and at its end."""

    def __init__(self, config: dict[str, Any], nodes: list[Node], host: Host) -> None:
        self.store, key = host.store(config["S3Uri"])
        self.key = key.rstrip("/") + "/" if key else ""
        self.folders = [n.path(_local_checkpoints(config)) for n in nodes]
        self.sent: dict[Path, tuple[int, float]] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.done.wait(SYNC_EVERY):
            self.sync()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        self.sync()

    def sync(self) -> None:
        for folder in self.folders:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                stat = path.stat()
                if self.sent.get(path) == (stat.st_size, stat.st_mtime):
                    continue
                self.store.put_file(self.key + path.relative_to(folder).as_posix(), path)
                self.sent[path] = (stat.st_size, stat.st_mtime)


def final_metrics(algorithm: dict[str, Any], lines: list[str]) -> dict[str, float]:
    """METRICS: each MetricDefinition's regex over the log; the last value found is final."""
    found: dict[str, float] = {}
    for definition in algorithm.get("MetricDefinitions") or []:
        pattern = re.compile(definition["Regex"])
        for text in lines:
            for match in pattern.finditer(text):
                try:
                    found[definition["Name"]] = float(match.group(1))
                except (IndexError, ValueError):
                    continue
    return found


def _status(codes: list[int], cancelled: bool) -> str:
    if cancelled:
        return "Stopped"
    return "Completed" if all(code == 0 for code in codes) else "Failed"


def _failure_reason(nodes: list[Node], codes: list[int]) -> str:
    """OUTPUT: the failure file's text is the FailureReason (the first node's that wrote one);
    without one, these are the runner's own words."""
    for node in nodes:
        failure = node.path(f"{ML}/output/failure")
        if failure.is_file() and failure.read_text().strip():
            return failure.read_text(errors="replace").strip()[:1024]
    code = next(c for c in codes if c != 0)
    return f"AlgorithmError: the training container exited with code {code}"


def _ended(name: str, outcome: Outcome) -> dict[str, Any]:
    status = {v: k for k, v in STATES.items()}[outcome.state]
    return {"name": name, "status": status, "reason": outcome.reason, "metrics": outcome.metrics}


def _local_checkpoints(config: Optional[dict[str, Any]]) -> str:
    return (config or {}).get("LocalPath") or CHECKPOINTS


def _tensorboard_upload(request: dict[str, Any]) -> Optional[dict[str, Any]]:
    """TENSORBOARD: the request's TensorBoardOutputConfig as the folder every node uploads
    while it runs and at its end, and where: LocalPath (default /opt/ml/output/tensorboard)
    to ``<S3OutputPath>/<job>/tensorboard-output/`` (the SageMaker Python SDK's
    ``Estimator.latest_job_tensorboard_artifacts_path``)."""
    config = request.get("TensorBoardOutputConfig")
    if not config:
        return None
    base = config["S3OutputPath"].rstrip("/")
    return {
        "S3Uri": f"{base}/{request['TrainingJobName']}/tensorboard-output/",
        "LocalPath": config.get("LocalPath") or "/opt/ml/output/tensorboard",
    }


def _sandboxed(host: Host) -> bool:
    return host.runtime.name == "sandbox"


def _json_or_text(value: Optional[str]) -> Any:
    try:
        return json.loads(value) if value is not None else None
    except ValueError:
        return value


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2))


def _tar(folders: list[Path]) -> bytes:
    import io

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for folder in folders:
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                archive.add(path, arcname=path.relative_to(folder).as_posix())
    return buffer.getvalue()
