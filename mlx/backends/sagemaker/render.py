"""The training request: ``create_training_job`` kwargs, the runtime config and the uploads.

Pure: no boto3, no call. ``mlx translate`` prints ``Plan.request`` as is; ``submit`` sends it
after staging ``Plan.uploads`` and ``Plan.runtime``. Every SageMaker limit botocore does not
check is checked here first (``limits.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from mlx.backends.common import runtime_config as common_runtime_config
from mlx.backends.sagemaker import images, limits, storage
from mlx.backends.sagemaker import layout as paths
from mlx.backends.sagemaker.layout import Layout
from mlx.backends.sagemaker.settings import settings_of
from mlx.cloud.objects import tree_digest
from mlx.cloud.plan import Plan, Upload
from mlx.cloud.tags import TagRules
from mlx.cloud.tags import check as check_tags
from mlx.errors import SpecError
from mlx.runtime.argv import render_args
from mlx.runtime.compat_sagemaker import plain_hyperparameters as plain_strings
from mlx.runtime.placeholders import values_of
from mlx.spec import JobSpec, uri_scheme
from mlx.spec_argv import resolved
from mlx.units import parse_duration

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
    image = images.training_image(spec, tuning=False)
    image_config = images.image_config(spec)
    parts = definition(spec, where, secrets, tuning=False)
    spec = resolved(spec, known_values(spec, parts.inputs, job_id))  # ${{inputs.x}}...
    argv = container_arguments(spec)
    metrics = metric_definitions(spec)
    hyperparameters = plain_hyperparameters(spec)
    request = {
        "TrainingJobName": job_id,
        "AlgorithmSpecification": {
            "TrainingImage": image,
            **({"TrainingImageConfig": image_config} if image_config else {}),
            "TrainingInputMode": INPUT_MODE,
            "ContainerEntrypoint": list(paths.ENTRYPOINT),
            "ContainerArguments": argv,
            **({"MetricDefinitions": metrics} if metrics else {}),
        },
        **({"HyperParameters": hyperparameters} if hyperparameters else {}),
        "InputDataConfig": parts.channels,
        "ResourceConfig": parts.resources,
        "StoppingCondition": parts.stopping,
        **parts.common,
        # Uploaded while the job runs, for `mlx tensorboard` (a training job only: a tuning
        # job's definition has no such field).
        "TensorBoardOutputConfig": {
            "S3OutputPath": where.job_uri,
            "LocalPath": paths.TENSORBOARD_DIR,
        },
        "Tags": tags(spec, job_id),
    }
    runtime = runtime_config(spec, job_id, parts)
    runtime["hyperparameters_in_argv"] = True
    runtime["tensorboard_dir"] = paths.TENSORBOARD_DIR
    return Plan(request, runtime, settings_of(spec).region, where, parts.uploads, parts.warnings)


def known_values(spec: JobSpec, inputs: dict[str, str], job_id: str) -> dict[str, str]:
    """The placeholders a training job's request carries resolved: the paths inside every
    SageMaker container are fixed (``layout``); only the bootstrap knows a node's own
    checkpoint folder in a job of several nodes."""
    config = {"job_id": job_id, "inputs": inputs, "model_dir": paths.MODEL_DIR}
    config["output_dir"] = paths.OUTPUT_DIR
    if spec.resources.nodes == 1:
        config["checkpoint_dir"] = paths.CHECKPOINT_DIR
    return values_of(config, {})


def definition(
    spec: JobSpec, where: Layout, secrets: dict[str, str], *, tuning: bool
) -> Definition:
    refuse_outputs(spec, where)
    channels, inputs, uploads = input_channels(spec, where)
    resources, gpus, warnings = resource_config(spec)
    common: dict[str, Any] = {
        "RoleArn": limits.check_role(settings_of(spec).role),
        "OutputDataConfig": output_config(spec, where),
        "CheckpointConfig": {"S3Uri": where.checkpoints_uri, "LocalPath": paths.CHECKPOINT_DIR},
        "EnableManagedSpotTraining": spec.resources.spot,
        "Environment": environment(spec, secrets, tuning=tuning),
    }
    vpc = vpc_config(spec)
    if vpc:
        common["VpcConfig"] = vpc
    stopping = stopping_condition(spec)
    return Definition(channels, inputs, uploads, resources, stopping, common, gpus, warnings)


def container_arguments(spec: JobSpec) -> list[str]:
    """command + args + rendered hyperparameters, each string checked against the limits."""
    origins = [("command", part) for part in spec.command_argv()]
    origins += [(f"args[{i}]", arg) for i, arg in enumerate(spec.args)]
    # A SageMaker-style container (`compat: sagemaker`) reads hyperparameters.json only.
    in_argv = {} if spec.compat == "sagemaker" else spec.hyperparameters
    for key, value in in_argv.items():
        rendered = render_args({key: value}, spec.args_style, spec.bool_style)
        origins += [(f"hyperparameters.{key}", arg) for arg in rendered]
    limits.check_strings(origins, "`command` + `args` + `hyperparameters`")
    return [text for _, text in origins]


def plain_hyperparameters(spec: JobSpec) -> dict[str, str]:
    """The hyperparameters as SageMaker shows them and writes them to hyperparameters.json:
    plain strings, as the generic sagemaker Estimator sends them (the script still gets them
    from ContainerArguments; the bootstrap does not add them again). One rule renders them
    here and in the hyperparameters.json `compat: sagemaker` writes on other platforms."""
    plain = plain_strings(spec.hyperparameters)
    limits.check_mapping(plain, "hyperparameters", limits.HYPERPARAMETERS, "entries")
    return plain


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
        upload = Upload(code, where.input_uri(tree_digest(code, code=True)), code=True)
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
    limits.check_channels(channels, paths.RESERVED_CHANNELS)
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
    volume, notes = storage.volume(
        choice.instance_type, resources.disk_gb, settings_of(spec).kms_key_id
    )
    config = {"InstanceType": choice.instance_type, "InstanceCount": resources.nodes, **volume}
    return config, choice.accelerator_count, (*choice.warnings, *notes)


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


def refuse_outputs(spec: JobSpec, where: Layout) -> None:
    """``outputs:`` locations cannot be honoured: SageMaker puts the model and output data
    under ``OutputDataConfig.S3OutputPath/<job>/output/`` and every node's checkpoints at
    one CheckpointConfig.S3Uri (none per trial), so mlx keeps all of a job's files under its
    own prefix, where ``pull-artifacts`` finds them; a location it would ignore is refused."""
    for kind, given in spec.outputs.items():
        if given is not None:
            raise SpecError(
                f"`outputs.{kind}`: a SageMaker job's {kind} goes under the job's prefix "
                f"({where.job_uri}), not {given}",
                hint="Choose where with `sagemaker.bucket` and `sagemaker.prefix`; "
                "`mlx pull-artifacts` fetches the files from there.",
            )


def output_config(spec: JobSpec, where: Layout) -> dict[str, Any]:
    # NONE: the model dir is uploaded file by file, so `pull-artifacts -i model/x` fetches
    # one file instead of a model.tar.gz holding everything.
    config = {"S3OutputPath": where.job_uri, "CompressionType": "NONE"}
    kms_key = settings_of(spec).kms_key_id
    if kms_key:
        config["KmsKeyId"] = kms_key
    return config


def environment(spec: JobSpec, secrets: dict[str, str], *, tuning: bool) -> dict[str, str]:
    """``env`` and ``secrets``: at most 100 variables in a training job, 48 in a tuning
    job's training definition."""
    env = {**spec.env, **secrets}
    if tuning:
        limits.check_mapping(
            env,
            "env",
            limits.TUNING_ENVIRONMENT,
            "variables",
            ("SAGEMAKER_PROGRAM",),  # the trials' program (tuning.py)
            scope=" in a tuning job",
        )
    else:
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


# SageMaker's Tag: key 1-128, value 0-256 characters of \p{L}\p{Z}\p{N}_.:/=+-@ (here: word
# characters, space and those signs), at most 50 per resource, `aws:` reserved
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Tag.html, and "Tag naming
# limits" in https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html).
TAG_RULES = TagRules(
    word="tags",
    key=r"[\w .:/=+@-]{1,128}",
    value=r"[\w .:/=+@-]{0,256}",
    rule="keys of 1-128 and values of up to 256 letters, digits, spaces and _ . : / = + - @; "
    "keys not starting with aws: (mlx-job-id and mlx-name are mlx's own)",
    max_count=48,  # 50, less mlx-job-id and mlx-name
    reserved=("aws:", "mlx-job-id", "mlx-name"),
    source="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Tag.html",
)


def tags(spec: JobSpec, job_id: str) -> list[dict[str, str]]:
    """mlx's own tags, then the spec's ``tags:`` (checked: botocore checks no pattern)."""
    check_tags(spec.tags, TAG_RULES, "SageMaker")
    own = [{"Key": "mlx-job-id", "Value": job_id}, {"Key": "mlx-name", "Value": spec.name}]
    return own + [{"Key": k, "Value": v} for k, v in spec.tags.items()]


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
        # Every node syncs CheckpointConfig.LocalPath to the one S3Uri: a multi-node job's
        # nodes checkpoint in node-<rank>/ each.
        checkpoint_per_node=True,
        compat=None,  # SageMaker lays out /opt/ml itself
        # SageMaker reads metrics from the log only: a value the script reported through
        # hypertune or MLflow becomes a line its MetricDefinitions match (runtime.channels).
        metric_lines=True,
    )
    if spec.code is not None:
        config["workdir"] = paths.channel_dir(paths.CODE_CHANNEL)
    return config
