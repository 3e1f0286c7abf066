"""The training request: a ``CustomJob`` in REST JSON, the runtime config and the uploads.

Pure: no SDK, no call, so ``mlx translate`` is fast. The JSON is what the REST API takes
(camelCase, int64 as text, enums by name); ``submit`` parses it strictly with
``aiplatform_v1.CustomJob.from_json(..., ignore_unknown_fields=False)`` before sending, so
a misspelt field fails before anything is uploaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlx.backends.common import resolve_machine
from mlx.backends.common import runtime_config as common_runtime_config
from mlx.backends.vertex.layout import Layout, mounted
from mlx.backends.vertex.settings import Target, target_for
from mlx.cloud.objects import tree_digest
from mlx.cloud.plan import Plan, Upload
from mlx.cloud.tags import TagRules
from mlx.cloud.tags import check as check_tags
from mlx.errors import SpecError
from mlx.runtime.contract import input_env_name
from mlx.runtime.placeholders import values_of
from mlx.spec import JobSpec, uri_scheme
from mlx.spec_argv import resolved

JOB_LABEL = "mlx-job-id"
# CustomJob.labels / HyperparameterTuningJob.labels: "Label keys and values can be no longer
# than 64 characters (Unicode codepoints), can only contain lowercase letters, numeric
# characters, underscores and dashes" (google/cloud/aiplatform/v1/custom_job.proto); keys
# start with a lowercase letter, values and keys at most 63 characters, at most 64 labels
# (https://cloud.google.com/resource-manager/docs/labels-overview#requirements). mlx takes
# the ASCII part of those rules (international lowercase letters are allowed too).
LABEL_RULES = TagRules(
    word="labels",
    key=r"[a-z][a-z0-9_-]{0,62}",
    value=r"[a-z0-9_-]{0,63}",
    rule="lowercase letters, digits, _ and -, at most 63 characters; keys start with a "
    "letter (mlx-job-id is mlx's own)",
    max_count=63,  # 64, less mlx-job-id
    reserved=(JOB_LABEL,),
    source="https://cloud.google.com/resource-manager/docs/labels-overview#requirements",
)
# The image's own Python runs the bootstrap from the /gcs/ mount; `python3` first, as
# slim images may have no `python`. Vertex appends containerSpec.args to the command.
_EXEC_PYTHON = 'exec "$(command -v python3 || command -v python)" "$@"'

VertexPlan = Plan[Target, Layout]  # request: {"parent", "customJob" or "hyperparameterTuningJob"}


@dataclass
class Container:
    """The parts of a worker pool that training and tuning share."""

    machine: dict[str, Any]
    env: list[dict[str, str]]
    inputs: dict[str, str]  # name -> path under /gcs/
    uploads: list[Upload]
    num_gpus: int
    warnings: tuple[str, ...]


def labels(spec: JobSpec, job_id: str) -> dict[str, str]:
    """mlx's own label, then the spec's ``tags:`` (checked against Vertex's label rules)."""
    check_tags(spec.tags, LABEL_RULES, "Vertex AI")
    return {JOB_LABEL: job_id, **spec.tags}


def training_plan(spec: JobSpec, job_id: str, secrets: dict[str, str]) -> VertexPlan:
    """The ``CustomJob`` for ``spec`` as job ``job_id``; ``secrets``: values or masks."""
    target = target_for(spec)
    layout = Layout(target.bucket, job_id)
    parts = container_parts(spec, layout, secrets)
    # The inputs' paths under /gcs/ and the job id are known now; the output dirs are
    # Vertex's AIP_* values, which the bootstrap reads in the job.
    spec = resolved(spec, values_of({"job_id": job_id, "inputs": parts.inputs}, {}))
    runtime = runtime_config(spec, job_id, layout, parts)
    runtime.update(
        hyperparameters_in_argv=True,  # in containerSpec.args, where the console shows them
        metrics_file=mounted(layout.metrics_uri),
        metrics_file_on_mount=True,  # /gcs/ uploads a file when it is closed
    )
    custom_job = {
        "displayName": job_id,
        "labels": labels(spec, job_id),
        "jobSpec": job_spec(spec, target, layout, parts, args=spec.argv()),
    }
    return Plan(
        {"parent": target.parent, "customJob": custom_job},
        runtime,
        target,
        layout,
        parts.uploads + code_uploads(spec, layout),
        parts.warnings,
    )


def job_spec(
    spec: JobSpec, target: Target, layout: Layout, parts: Container, args: list[str]
) -> dict[str, Any]:
    """A ``CustomJobSpec``: pool 0 with one replica, pool 1 with the other nodes."""
    pool: dict[str, Any] = {"machineSpec": parts.machine, "replicaCount": "1"}
    disk = disk_spec(spec)
    if disk:
        pool["diskSpec"] = disk
    pool["containerSpec"] = {
        "imageUri": spec.image,
        "command": bootstrap_command(layout),
        "args": args,
        **({"env": parts.env} if parts.env else {}),
    }
    pools = [pool]
    if spec.resources.nodes > 1:
        pools.append({**pool, "replicaCount": str(spec.resources.nodes - 1)})
    result: dict[str, Any] = {
        "workerPoolSpecs": pools,
        "baseOutputDirectory": {"outputUriPrefix": layout.job_uri},
    }
    scheduling = scheduling_spec(spec)
    if scheduling:
        result["scheduling"] = scheduling
    if target.service_account:
        result["serviceAccount"] = target.service_account
    if target.network:
        result["network"] = target.network
    return result


def bootstrap_command(layout: Layout) -> list[str]:
    return [
        "sh",
        "-c",
        _EXEC_PYTHON,
        "mlx",
        mounted(layout.bootstrap_uri),
        "--config",
        mounted(layout.runtime_uri),
        "--",
    ]


def container_parts(spec: JobSpec, layout: Layout, secrets: dict[str, str]) -> Container:
    check_outputs(spec, layout)
    machine, gpus, warnings = machine_spec(spec)
    inputs, uploads = stage_inputs(spec, layout)
    env = {**spec.env, **secrets}
    env.update({f"MLX_INPUT_{input_env_name(name)}": path for name, path in inputs.items()})
    return Container(
        machine=machine,
        env=[{"name": k, "value": v} for k, v in env.items()],
        inputs=inputs,
        uploads=uploads,
        num_gpus=gpus,
        warnings=warnings,
    )


def machine_spec(spec: JobSpec) -> tuple[dict[str, Any], int, tuple[str, ...]]:
    """``machineSpec`` from ``resources`` (``instance_type.vertex`` wins), GPUs per node,
    and the catalog's warnings."""
    choice = resolve_machine("vertex", spec.resources)
    machine: dict[str, Any] = {"machineType": choice.instance_type}
    if choice.accelerator_count and choice.provider_accelerator_type:
        machine["acceleratorType"] = choice.provider_accelerator_type
        machine["acceleratorCount"] = choice.accelerator_count
    return machine, choice.accelerator_count, choice.warnings


def disk_spec(spec: JobSpec) -> dict[str, Any]:
    """``diskSpec`` with the size ``resources.disk`` asks for; {} without it.

    Never a ``bootDiskType``: Vertex gives each machine family its own default, "pd-ssd"
    for most and "hyperdisk-balanced" for A3 Ultra (``a3-ultragpu-*``, the catalog's H200)
    (DiskSpec, https://cloud.google.com/vertex-ai/docs/reference/rest/v1/DiskSpec and
    aiplatform_v1/types/machine_resources.py), and Compute Engine attaches no Persistent
    Disk to A3 Ultra or A4 VMs, nor Hyperdisk to N1 or E2 ones
    (https://cloud.google.com/compute/docs/disks/hyperdisks#machine-type-support). Left
    out, the type is right for whichever family the catalog or ``instance_type`` picks.
    """
    size = spec.resources.disk_gb
    return {} if size is None else {"bootDiskSizeGb": max(1, math.ceil(size))}


def scheduling_spec(spec: JobSpec) -> dict[str, Any]:
    """``timeout`` from ``max_runtime``; ``SPOT`` capacity (preemptible) with ``spot``."""
    scheduling: dict[str, Any] = {}
    seconds = spec.resources.max_runtime_seconds
    if seconds is not None:
        scheduling["timeout"] = f"{seconds}s"
    if spec.resources.spot:
        scheduling["strategy"] = "SPOT"
    return scheduling


def stage_inputs(spec: JobSpec, layout: Layout) -> tuple[dict[str, str], list[Upload]]:
    """Each input's path under ``/gcs/``; local ones are uploaded once, by content."""
    paths: dict[str, str] = {}
    uploads: list[Upload] = []
    for name, uri in spec.inputs.items():
        local = spec.local_input_path(name)
        if local is None:
            check_input_uri(name, uri)
            paths[name] = mounted(uri)
            continue
        upload = Upload(local, layout.input_uri(tree_digest(local)))
        uploads.append(upload)
        path = mounted(upload.uri)
        paths[name] = path + local.name if local.is_file() else path.rstrip("/")
    return paths, uploads


def check_input_uri(name: str, uri: str) -> None:
    """A remote input the job can read through the mount: ``gs://bucket/...`` only."""
    scheme = uri_scheme(uri)
    if scheme == "gs":
        return
    tool = "gcloud storage cp -r" if scheme in ("s3", "http", "https") else "azcopy, then gcloud"
    raise SpecError(
        f"`inputs.{name}`: Vertex AI reads gs:// URIs and local paths, not {scheme}://",
        hint=f"Copy the data to Cloud Storage ({tool}) or give a local path for mlx to upload.",
    )


def check_outputs(spec: JobSpec, layout: Layout) -> None:
    """``outputs:`` URIs are refused: Vertex gives a job one ``baseOutputDirectory`` and
    derives ``AIP_MODEL_DIR``, ``AIP_CHECKPOINT_DIR`` and ``AIP_TENSORBOARD_LOG_DIR`` from
    it (``<base>/model/``..., per trial ``<base>/<trial>/model/``; CustomJobSpec,
    https://cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec): there is
    no per-output place to send, and mlx's is the job's prefix, where pull-artifacts looks.
    """
    for kind, uri in spec.outputs.items():
        if uri is None:
            continue
        raise SpecError(
            f"`outputs.{kind}`: Vertex AI writes a job's outputs under its one output "
            f"directory, {layout.job_uri}{kind}/ here, not {uri}",
            hint="Leave `outputs` out (or null) and fetch them with `mlx pull-artifacts "
            "JOB`; `vertex.bucket` chooses the bucket.",
        )


def code_uploads(spec: JobSpec, layout: Layout) -> list[Upload]:
    code = spec.code_dir()
    return [] if code is None else [Upload(code, layout.code_uri, once=False, code=True)]


def runtime_config(spec: JobSpec, job_id: str, layout: Layout, parts: Container) -> dict[str, Any]:
    """The bootstrap's config. The dirs are fallbacks: Vertex's ``AIP_*`` values win."""
    config = common_runtime_config(
        spec,
        job_id,
        "vertex",
        inputs=parts.inputs,
        model_dir=mounted(layout.uri(job_id, "model")).rstrip("/"),
        checkpoint_dir=mounted(layout.uri(job_id, "checkpoints")).rstrip("/"),
        output_dir=mounted(layout.uri(job_id, "output")).rstrip("/"),
        num_gpus=parts.num_gpus,
        # The replicas share one AIP_CHECKPOINT_DIR on the mount: each node keeps its
        # checkpoints in node-<rank>/ of it.
        checkpoint_per_node=True,
    )
    if spec.code is not None:
        config["workdir"] = mounted(layout.code_uri).rstrip("/")
    return config
