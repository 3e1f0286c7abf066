"""The training request: ``create_training_job`` kwargs, the runtime config and the uploads.

Pure: no boto3, no call. ``mlx translate`` prints ``Plan.request`` as is; ``submit`` sends it
after staging ``Plan.uploads`` and ``Plan.runtime``. Every SageMaker limit botocore does not
check is checked here first (``limits.py``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Optional

from mlx.backends.common import runtime_config as common_runtime_config
from mlx.backends.sagemaker import layout as paths
from mlx.backends.sagemaker import limits
from mlx.backends.sagemaker.layout import Layout
from mlx.backends.sagemaker.settings import settings_of
from mlx.cloud.objects import tree_digest
from mlx.cloud.plan import Plan, Upload
from mlx.errors import SpecError
from mlx.runtime.argv import render_args
from mlx.spec import JobSpec, uri_scheme
from mlx.units import parse_duration

ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")
DEFAULT_VOLUME_GB = 30
DEFAULT_MAX_RUNTIME = 24 * 3600  # SageMaker's own default: one day
INPUT_MODE = "File"

# What submit stages and sends; created in the spec's region (None: the session's).
SageMakerPlan = Plan[Optional[str], Layout]


@dataclass
class Definition:
    """The parts a training job and a tuning job's training definition share."""

    channels: list[dict[str, Any]]
    inputs: dict[str, str]  # name -> path inside the container
    uploads: list[Upload]
    resources: dict[str, Any]
    stopping: dict[str, Any]
    common: dict[str, Any]  # RoleArn ... Environment, VpcConfig: same in both requests
    num_gpus: int
    warnings: tuple[str, ...]


def layout_for(spec: JobSpec, job_id: str) -> Layout:
    settings = settings_of(spec)
    return Layout(limits.check_bucket(settings.bucket), settings.prefix, job_id)


def training_plan(spec: JobSpec, job_id: str, secrets: dict[str, str]) -> SageMakerPlan:
    """``create_training_job`` kwargs for ``spec`` as job ``job_id``; ``secrets`` are the
    values (or masks) of ``spec.secrets``."""
    limits.check_job_name(job_id)
    where = layout_for(spec, job_id)
    parts = definition(spec, where, secrets)
    argv = container_arguments(spec)
    metrics = metric_definitions(spec)
    request = {
        "TrainingJobName": job_id,
        "AlgorithmSpecification": {
            "TrainingImage": training_image(spec),
            "TrainingInputMode": INPUT_MODE,
            "ContainerEntrypoint": list(paths.ENTRYPOINT),
            "ContainerArguments": argv,
            **({"MetricDefinitions": metrics} if metrics else {}),
        },
        "InputDataConfig": parts.channels,
        "ResourceConfig": parts.resources,
        "StoppingCondition": parts.stopping,
        **parts.common,
        "Tags": tags(spec, job_id),
    }
    runtime = runtime_config(spec, job_id, parts)
    runtime["hyperparameters_in_argv"] = True
    return Plan(request, runtime, settings_of(spec).region, where, parts.uploads, parts.warnings)


def definition(spec: JobSpec, where: Layout, secrets: dict[str, str]) -> Definition:
    channels, inputs, uploads = input_channels(spec, where)
    resources, gpus, warnings = resource_config(spec)
    common: dict[str, Any] = {
        "RoleArn": limits.check_role(settings_of(spec).role),
        "OutputDataConfig": output_config(spec, where),
        "CheckpointConfig": {"S3Uri": where.checkpoints_uri, "LocalPath": paths.CHECKPOINT_DIR},
        "EnableManagedSpotTraining": spec.resources.spot,
        "Environment": environment(spec, secrets),
    }
    vpc = vpc_config(spec)
    if vpc:
        common["VpcConfig"] = vpc
    stopping = stopping_condition(spec)
    if not ECR_IMAGE.match(spec.image or ""):
        warnings += (
            f"image {spec.image!r} is not in Amazon ECR: SageMaker pulls training images from "
            "ECR (or a private registry set up for it)",
        )
    return Definition(channels, inputs, uploads, resources, stopping, common, gpus, warnings)


def training_image(spec: JobSpec) -> str:
    image = spec.image or ""
    if len(image) > 255:
        raise SpecError("`image`: SageMaker allows image URIs of at most 255 characters")
    return image


def container_arguments(spec: JobSpec) -> list[str]:
    """command + args + rendered hyperparameters, each string checked against the limits."""
    origins = [("command", part) for part in spec.command_argv()]
    origins += [(f"args[{i}]", arg) for i, arg in enumerate(spec.args)]
    for key, value in spec.hyperparameters.items():
        rendered = render_args({key: value}, spec.args_style)
        origins += [(f"hyperparameters.{key}", arg) for arg in rendered]
    limits.check_strings(origins, "`command` + `args` + `hyperparameters`")
    return [text for _, text in origins]


def metric_definitions(spec: JobSpec) -> list[dict[str, str]]:
    # SageMaker finds metrics with these regexes in the job's log: the bootstrap passes
    # stdout through unchanged, so the spec's patterns work as they do locally.
    definitions = [{"Name": m.name, "Regex": m.pattern} for m in spec.metrics]
    limits.check_metrics(definitions)
    return definitions


def input_channels(
    spec: JobSpec, where: Layout
) -> tuple[list[dict[str, Any]], dict[str, str], list[Upload]]:
    """The `mlx` and `code` channels, then one channel per input."""
    channels = [_channel(paths.BOOTSTRAP_CHANNEL, where.staging_uri)]
    inputs: dict[str, str] = {}
    uploads: list[Upload] = []
    code = spec.code_dir()
    if code is not None:
        upload = Upload(code, where.input_uri(tree_digest(code)))
        uploads.append(upload)
        channels.append(_channel(paths.CODE_CHANNEL, upload.uri))
    for name, uri in spec.inputs.items():
        if name in paths.RESERVED_CHANNELS:
            raise SpecError(
                f"`inputs.{name}`: the name {name!r} is taken by mlx on SageMaker",
                hint="Rename the input (its variable is MLX_INPUT_<NAME>).",
            )
        local = spec.local_input_path(name)
        if local is None:
            limits.check_input_uri(name, uri, uri_scheme(uri))
            channels.append(_channel(name, uri))
            inputs[name] = paths.channel_dir(name)
            continue
        upload = Upload(local, where.input_uri(tree_digest(local)))
        uploads.append(upload)
        channels.append(_channel(name, upload.uri))
        # A local file stays a file path, as it is on the local provider.
        suffix = f"/{local.name}" if local.is_file() else ""
        inputs[name] = paths.channel_dir(name) + suffix
    return channels, inputs, uploads


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


def resource_config(spec: JobSpec) -> tuple[dict[str, Any], int, tuple[str, ...]]:
    """ResourceConfig, accelerators per node, and the catalog's warnings."""
    from mlx.catalog.resolver import resolve

    resources = spec.resources
    choice = resolve(
        "sagemaker",
        accelerator=resources.accelerator_request,
        cpus=resources.cpus,
        memory_gb=resources.memory_gb,
        override=resources.instance_type.get("sagemaker"),
    )
    disk = resources.disk_gb
    config: dict[str, Any] = {
        "InstanceType": choice.instance_type,
        "InstanceCount": resources.nodes,
        "VolumeSizeInGB": max(1, math.ceil(disk)) if disk else DEFAULT_VOLUME_GB,
    }
    if settings_of(spec).kms_key_id:
        config["VolumeKmsKeyId"] = settings_of(spec).kms_key_id
    return config, choice.accelerator_count, choice.warnings


def stopping_condition(spec: JobSpec) -> dict[str, Any]:
    runtime = spec.resources.max_runtime_seconds or DEFAULT_MAX_RUNTIME
    condition: dict[str, Any] = {"MaxRuntimeInSeconds": runtime}
    if spec.resources.spot:
        # Spot jobs wait for capacity within MaxWaitTimeInSeconds, which must cover the run.
        wait = settings_of(spec).max_wait
        condition["MaxWaitTimeInSeconds"] = parse_duration(wait) if wait else 2 * runtime
        if condition["MaxWaitTimeInSeconds"] < runtime:
            raise SpecError(
                "`sagemaker.max_wait` must be at least `resources.max_runtime`",
                hint="It counts the wait for spot capacity plus the run itself.",
            )
    return condition


def output_config(spec: JobSpec, where: Layout) -> dict[str, Any]:
    # NONE: the model dir is uploaded file by file, so `pull-artifacts -i model/x` fetches
    # one file instead of a model.tar.gz holding everything.
    config = {"S3OutputPath": where.job_uri, "CompressionType": "NONE"}
    kms_key = settings_of(spec).kms_key_id
    if kms_key:
        config["KmsKeyId"] = kms_key
    return config


def environment(spec: JobSpec, secrets: dict[str, str]) -> dict[str, str]:
    env = {**spec.env, **secrets}
    limits.check_mapping(env, "env", limits.ENVIRONMENT, "variables")
    return env


def vpc_config(spec: JobSpec) -> Optional[dict[str, Any]]:
    settings = settings_of(spec)
    if not settings.subnets and not settings.security_group_ids:
        return None
    if not (settings.subnets and settings.security_group_ids):
        raise SpecError(
            "`sagemaker.subnets` and `sagemaker.security_group_ids` go together",
            hint="A job in a VPC needs both.",
        )
    return {"Subnets": settings.subnets, "SecurityGroupIds": settings.security_group_ids}


def tags(spec: JobSpec, job_id: str) -> list[dict[str, str]]:
    return [{"Key": "mlx-job-id", "Value": job_id}, {"Key": "mlx-name", "Value": spec.name}]


def runtime_config(spec: JobSpec, job_id: str, parts: Definition) -> dict[str, Any]:
    """The bootstrap's config (runtime.json in the `mlx` channel)."""
    config = common_runtime_config(
        spec,
        job_id,
        "sagemaker",
        inputs=parts.inputs,
        model_dir=paths.MODEL_DIR,
        checkpoint_dir=paths.CHECKPOINT_DIR,
        output_dir=paths.OUTPUT_DIR,
        num_gpus=parts.num_gpus,
        failure_file=paths.FAILURE_FILE,
        resource_config=paths.RESOURCE_CONFIG,
    )
    if spec.code is not None:
        config["workdir"] = paths.channel_dir(paths.CODE_CHANNEL)
    return config
