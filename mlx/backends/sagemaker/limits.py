"""SageMaker's limits, checked before any call: botocore checks types and required keys
client-side, but not lengths, patterns or counts, so a request that breaks one would fail
only at the service (or, worse, after inputs were uploaded).

Limits from the SageMaker API reference (CreateTrainingJob, CreateHyperParameterTuningJob)
and botocore's service model (``data/sagemaker/2017-07-24/service-2.json``), per request type,
counting the entries mlx adds itself (its `mlx` and `code` channels, the toolkit's static
hyperparameters).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from mlx.errors import SpecError

JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
TUNING_NAME_MAX = 32
ROLE_RE = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
S3_URI_RE = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?$")
CONTAINER_STRINGS = (100, 256)  # ContainerEntrypoint / ContainerArguments: items, chars
HYPERPARAMETERS = (100, 256, 2500)  # items, key chars, value chars
# Environment: TrainingEnvironmentMap (training job) and HyperParameterTrainingJobEnvironment
# Map (a tuning job's training definition): 100 and 48 entries, keys and values of 512.
ENVIRONMENT = (100, 512, 512)
TUNING_ENVIRONMENT = (48, 512, 512)
INPUT_CHANNELS = 20  # InputDataConfig: at most 20 channels, mlx's own included
METRICS = (40, 255, 500)  # definitions, name chars, regex chars
# MetricName is `.+`: any characters but Java's line terminators.
_LINE_BREAKS = frozenset("\n\r\u0085\u2028\u2029")
MAX_RESOURCE = 20_000  # HyperbandStrategyConfig.MaxResource: "The maximum value is 20,000"
PARAMETER_RANGES = 30  # all ranges of a tuning job together
CATEGORICAL_VALUES = 30
SETTINGS_HINT = "Set it under `sagemaker:` in the spec or in ~/.config/mlx/config.yaml."
# "Resource Limits for Automatic Model Tuning" (https://docs.aws.amazon.com/sagemaker/latest/
# dg/automatic-model-tuning-limits.html): parallel training jobs per tuning job, 10 by
# default and "can be increased to" 100; training jobs per tuning job, 750 for every
# strategy (a grid's "either specified explicitly or inferred from the search space"), of
# which only random search's can be increased, to 10,000. Increases are per account
# (Service Quotas), so past the default mlx warns and SageMaker decides.
PARALLEL_TRAINING_JOBS = (10, 100)  # default quota, most after an increase
TRAINING_JOBS = {"random": (750, 10_000)}  # strategy -> (default, most); others (750, 750)
TRAINING_JOBS_DEFAULT = (750, 750)
_OTHER_ENGINE = (
    "set `tune.engine: mlx` (each trial a training job, within your account's training quotas)"
)


def check_job_name(name: str, limit: int = 63, field: str = "TrainingJobName") -> str:
    if len(name) > limit or not JOB_NAME_RE.match(name):
        raise SpecError(
            f"`{field}` {name!r} must be 1-{limit} letters, digits and hyphens, starting and "
            "ending with a letter or digit",
            hint="Shorten `name` in the spec.",
        )
    return name


def check_role(role: str | None) -> str:
    if not role:
        raise SpecError(
            "`sagemaker.role` is required: the IAM role SageMaker runs the job as",
            hint=f"e.g. role: arn:aws:iam::123456789012:role/SageMakerRole. {SETTINGS_HINT}",
        )
    if len(role) > 2048 or not ROLE_RE.match(role):
        raise SpecError(
            f"`sagemaker.role` {role!r} is not an IAM role ARN",
            hint="It looks like arn:aws:iam::123456789012:role/SageMakerRole.",
        )
    return role


def check_bucket(bucket: str | None) -> str:
    """The bucket name (an ``s3://bucket`` form is accepted)."""
    if not bucket:
        raise SpecError(
            "`sagemaker.bucket` is required: mlx stages code and inputs and keeps artifacts there",
            hint=f"e.g. bucket: my-ml-bucket. {SETTINGS_HINT}",
        )
    name = bucket[len("s3://") :] if bucket.startswith("s3://") else bucket
    name = name.rstrip("/")
    if not BUCKET_RE.match(name) or ".." in name:
        raise SpecError(
            f"`sagemaker.bucket` {bucket!r} is not an S3 bucket name",
            hint="3-63 lower-case letters, digits, dots and hyphens, e.g. my-ml-bucket.",
        )
    return name


def check_input_uri(name: str, uri: str, scheme: str | None) -> None:
    """A remote input SageMaker can mount: ``s3://bucket/key`` only."""
    if scheme == "s3":
        if not S3_URI_RE.match(uri):
            raise SpecError(
                f"`inputs.{name}`: {uri!r} is not an S3 URI",
                hint="Write s3://bucket/prefix/ (bucket names are lower case).",
            )
        return
    copy = {"gs": "gsutil cp / gcloud storage cp", "http": "curl", "https": "curl"}
    tool = copy.get(scheme or "", "azcopy")
    raise SpecError(
        f"`inputs.{name}`: SageMaker reads s3:// URIs and local paths, not {scheme}://",
        hint=f"Copy the data to S3 ({tool}, then aws s3 cp) or give a local path for mlx to "
        "upload.",
    )


def check_strings(items: Iterable[tuple[str, str]], what: str) -> None:
    """``items``: (the spec field it came from, the string); ContainerArguments limits."""
    most, longest = CONTAINER_STRINGS
    items = list(items)
    if len(items) > most:
        raise SpecError(
            f"{what} make {len(items)} arguments; SageMaker allows {most}",
            hint="Move arguments into a config file passed with one argument.",
        )
    for field, text in items:
        if len(text) > longest:
            raise SpecError(
                f"`{field}`: the argument {text[:40]!r}... is {len(text)} characters; "
                f"SageMaker allows at most {longest} per argument",
                hint="Pass long values through a file (a code or input file) instead.",
            )
        if _LINE_BREAKS & set(text):
            # TrainingContainerArgument's pattern is `.*`: one line.
            raise SpecError(
                f"`{field}`: SageMaker takes arguments of one line; {text[:40]!r} has a line break",
                hint="Pass multi-line values through a file (a code or input file) instead.",
            )


def check_mapping(
    mapping: Mapping[str, str],
    field: str,
    limits: tuple[int, int, int],
    what: str,
    own: Sequence[str] = (),
    scope: str = "",
) -> None:
    """``mapping`` (from spec field ``field``) within ``limits`` (items, key and value
    characters), counting ``own``: the entries mlx adds to the same request field.
    ``scope`` says which request's limit it is (" in a tuning job")."""
    most, key_max, value_max = limits
    total = len(mapping) + len(own)
    if total > most:
        mine = f" plus mlx's own {len(own)} ({', '.join(own)}): {total}" if own else ""
        raise SpecError(
            f"`{field}` has {len(mapping)} {what}{mine}; SageMaker allows at most {most}{scope}"
        )
    for key, value in mapping.items():
        if len(key) > key_max:
            raise SpecError(f"`{field}.{key}`: the name is longer than {key_max} characters")
        if len(value) > value_max:
            raise SpecError(
                f"`{field}.{key}` is {len(value)} characters once encoded; SageMaker allows "
                f"at most {value_max}",
                hint="Pass long values through a file (a code or input file) instead.",
            )


def check_channels(channels: Sequence[Mapping[str, object]], reserved: Sequence[str]) -> None:
    """At most 20 channels in InputDataConfig, mlx's ``reserved`` ones counted."""
    if len(channels) <= INPUT_CHANNELS:
        return
    own = [c["ChannelName"] for c in channels if c["ChannelName"] in reserved]
    raise SpecError(
        f"`inputs` has {len(channels) - len(own)} entries plus mlx's own {len(own)} "
        f"({', '.join(map(str, own))}): {len(channels)} input channels; SageMaker allows at "
        f"most {INPUT_CHANNELS}",
        hint="Put several inputs under one S3 prefix and pass it as one input.",
    )


def check_metrics(definitions: list[dict[str, str]]) -> None:
    most, name_max, regex_max = METRICS
    if len(definitions) > most:
        raise SpecError(f"`metrics` has {len(definitions)} entries; SageMaker allows {most}")
    for i, item in enumerate(definitions):
        name = item["Name"]
        if _LINE_BREAKS & set(name):
            raise SpecError(f"`metrics[{i}].name`: SageMaker takes metric names of one line")
        if len(name) > name_max or len(item["Regex"]) > regex_max:
            raise SpecError(
                f"`metrics[{i}]`: SageMaker allows names of {name_max} and regexes of "
                f"{regex_max} characters at most"
            )


def check_ranges(ranges: Mapping[str, list[dict[str, object]]]) -> None:
    count = sum(len(items) for items in ranges.values())
    if count > PARAMETER_RANGES:
        raise SpecError(
            f"`tune.parameters` has {count} parameters; SageMaker tunes at most "
            f"{PARAMETER_RANGES} at once"
        )
    for item in ranges.get("CategoricalParameterRanges", []):
        values = item["Values"]
        assert isinstance(values, list)
        if len(values) > CATEGORICAL_VALUES:
            raise SpecError(
                f"`tune.parameters.{item['Name']}` has {len(values)} values; SageMaker allows "
                f"at most {CATEGORICAL_VALUES} (grid: int ranges count as their values)"
            )


def check_tuning_quotas(algorithm: str, parallel: int, trials: int, asked: str) -> list[str]:
    """Refuse what no SageMaker tuning job runs; the warnings for what only a raised quota
    allows. ``trials``: the training jobs it would run, as ``asked`` says the spec asks."""
    warnings = []
    default, most = PARALLEL_TRAINING_JOBS
    if parallel > most:
        raise SpecError(
            f"`tune.parallel_trials` is {parallel}, but a SageMaker tuning job runs at most "
            f"{most} training jobs at once: lower it, or {_OTHER_ENGINE}"
        )
    if parallel > default:
        warnings.append(
            f"`tune.parallel_trials` is {parallel}, above SageMaker's default quota of "
            f"{default} parallel training jobs per tuning job (an account can raise it to "
            f"{most}): unless yours was raised SageMaker refuses the job; lower it to "
            f"{default}, or {_OTHER_ENGINE}"
        )
    default, most = TRAINING_JOBS.get(algorithm, TRAINING_JOBS_DEFAULT)
    if trials > most:
        raise SpecError(
            f"{asked}, but a SageMaker tuning job with {algorithm} search runs at "
            f"most {most} training jobs: lower it, or {_OTHER_ENGINE}"
        )
    if trials > default:
        warnings.append(
            f"{asked}, above SageMaker's default quota of {default} training "
            f"jobs per tuning job (an account can raise it to {most} for {algorithm} search): "
            f"unless yours was raised SageMaker refuses the job; lower it, or {_OTHER_ENGINE}"
        )
    return warnings
