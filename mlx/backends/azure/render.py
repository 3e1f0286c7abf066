"""The command job: an Azure ML v2 job document that ``azure.ai.ml.load_job`` accepts.

Pure: no SDK, no call. ``mlx translate`` prints the document; ``submit`` writes it as YAML,
loads it with ``load_job`` and sends what it loaded, so what translate shows is what goes.

The command starts the bootstrap, which learns the input and output paths Azure chose from
options Azure substitutes (``--input 'train=${{inputs.train}}'``), then the script's whole
argv (``script``): the command, ``args`` and the rendered hyperparameters, plain scalars as
``${{inputs.<key>}}`` literal inputs. Every word is quoted with ``shlex.quote``, so a value
like ``a; rm -rf /`` reaches the script as one argument; the runtime config in
``MLX_RUNTIME_CONFIG`` says the hyperparameters are already in the argv.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import PurePosixPath
from typing import Any, Optional
from urllib.parse import urlsplit

from mlx.backends.azure.expressions import hide
from mlx.backends.azure.inputs import input_upload, input_uri
from mlx.backends.azure.layout import (
    BOOTSTRAP,
    RUNTIME_ENV,
    SCHEMAS,
    TAG,
    artifacts_uri,
    azure_keys,
)
from mlx.backends.azure.script import script_args
from mlx.backends.azure.settings import settings_of
from mlx.backends.common import runtime_config as common_runtime_config
from mlx.cloud.tags import TagRules
from mlx.cloud.tags import check as check_tags
from mlx.errors import SpecError
from mlx.spec import OUTPUT_KINDS, JobSpec, uri_scheme

# The image's Python runs the bootstrap (3.8+, standard library only); `exec` hands it the
# signals Azure sends on cancel.
_PYTHON = 'exec "$(command -v python3 || command -v python)"'
_REMOTE_SCHEMES = ("azureml", "wasbs", "abfss", "https", "http")


def command_job(
    spec: JobSpec, job_id: str, *, compute: str, code: str, secrets: dict[str, str]
) -> dict[str, Any]:
    """The command job for ``spec`` named ``job_id``; ``code`` is the snapshot dir and
    ``secrets`` the values (or masks) of ``spec.secrets``."""
    check_metric_names(spec)
    keys = azure_keys(list(spec.inputs))
    runtime = runtime_config(spec, job_id)
    script = script_args(spec)
    doc: dict[str, Any] = {
        "$schema": SCHEMAS["command"],
        "type": "command",
        **identity(spec, job_id),
        "code": code,
        "command": command_line(keys, script.words, hidden=script.hidden),
        "environment": {"image": spec.image},
        "compute": f"azureml:{compute}",
        "resources": {"instance_count": spec.resources.nodes},
        **distribution(spec),
        **data(spec, keys, owner=job_id, literals=script.literals),
        "environment_variables": environment(spec, secrets, runtime),
    }
    timeout = spec.resources.max_runtime_seconds
    if timeout:
        doc["limits"] = {"timeout": timeout}
    return doc


def identity(spec: JobSpec, job_id: str) -> dict[str, Any]:
    """The client-chosen name makes create idempotent: a retried PUT of the same name is
    harmless, and after a lost answer a GET by name says whether the job exists."""
    return {
        "name": job_id,
        "display_name": job_id,
        "experiment_name": spec.name,
        "tags": {TAG: job_id, **_checked(spec.tags)},
    }


# Azure ML documents no rules for a job's tags (azure-ai-ml's Job(tags=...) is a free
# dict); mlx applies Azure Resource Manager's: names up to 512 characters without
# < > % & \ ? /, values up to 256, at most 50 per resource
# (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations).
TAG_RULES = TagRules(
    word="tags",
    key=r"[^<>%&\\?/]{1,512}",
    value=r".{0,256}",
    rule="names of 1-512 characters without < > % & \\ ? /, values of up to 256 (Azure "
    "Resource Manager's tag limits; mlx-job-id is mlx's own)",
    max_count=49,  # 50, less mlx-job-id
    reserved=(TAG,),
    source="https://learn.microsoft.com/azure/azure-resource-manager/management/"
    "tag-resources#limitations",
)


def _checked(tags: dict[str, str]) -> dict[str, str]:
    check_tags(tags, TAG_RULES, "Azure ML")
    return tags


def distribution(spec: JobSpec) -> dict[str, Any]:
    """PyTorch distribution for multi-node jobs, one process per node, as every platform
    runs a node: Azure ML then sets ``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``,
    ``NODE_RANK``, ``RANK`` (= the node's) and ``LOCAL_RANK`` (0) in it
    (https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu,
    PyTorch), the variables mlx sets on the other platforms, so an ``env://`` script runs
    unchanged; a script that wants one process per GPU starts them itself (``torchrun``).
    One process per GPU (``process_count_per_instance`` = GPUs) would run the script that
    many times per node with a world of processes, unlike anywhere else."""
    if spec.resources.nodes < 2:
        return {}
    return {
        "distribution": {
            "type": "pytorch",
            "process_count_per_instance": processes_per_node(spec),
        }
    }


def processes_per_node(spec: JobSpec) -> int:
    """Processes Azure ML starts per node (``distribution``): one."""
    return 1


def command_line(
    input_keys: dict[str, str],
    words: list[str],
    search_keys: Optional[dict[str, str]] = None,
    hidden: tuple[str, ...] = (),
) -> str:
    """The shell command Azure ML runs in the snapshot dir: the bootstrap, then the
    script's ``words``. Every word is quoted; the placeholders sit inside single quotes,
    so the paths and plain values Azure substitutes stay one word each. The ``hidden``
    placeholders are left to the bootstrap (``expressions.hide``)."""
    parts = [_PYTHON, BOOTSTRAP, "--config-env", RUNTIME_ENV]
    for name, key in input_keys.items():
        parts += ["--input", _placed(name, f"inputs.{key}")]
    for kind in OUTPUT_KINDS:
        parts += ["--output", _placed(kind, f"outputs.{kind}")]
    for name, key in (search_keys or {}).items():
        parts += ["--hp", _placed(name, f"search_space.{key}")]
    return " ".join([*parts, "--", hide(shlex.join(words), hidden)])


def _placed(name: str, expression: str) -> str:
    # Spec names are letters, digits, `_`, `-` (inputs) or anything (hyperparameters):
    # quote the name, keep ${{...}} literal for Azure to substitute.
    return shlex.quote(f"{name}=") + "'${{" + expression + "}}'"


# MLflow's rule for metric names (mlflow/utils/validation.py, _VALID_PARAM_AND_METRIC_NAMES:
# alphanumerics, `_`, `-`, `.`, spaces and `/`; MLflow 2.x also takes `:`), which Azure ML's
# tracking applies: the bootstrap logs every spec metric there.
_MLFLOW_NAME = re.compile(r"^[/\w.\- :]+$")


def check_metric_names(spec: JobSpec) -> None:
    for metric in spec.metrics:
        name = metric.name
        if (
            not _MLFLOW_NAME.match(name)
            or "//" in name
            or name.startswith("/")
            or name.endswith("/")
        ):
            raise SpecError(
                f"metric {name!r}: Azure ML (MLflow) takes letters, digits, `_`, `-`, `.`, "
                "`:`, spaces and single `/` inside a name",
                hint="Rename the metric; its `regex` can still match the script's own words.",
            )


def runtime_config(spec: JobSpec, job_id: str) -> dict[str, Any]:
    """The bootstrap's config; input and output paths arrive as ``--input``/``--output``,
    and the hyperparameters are in the command already (``script``): the bootstrap does
    not add them again."""
    accelerator = spec.resources.accelerator_request
    # The dirs are replaced by the --output paths Azure substitutes into the command.
    return common_runtime_config(
        spec,
        job_id,
        "azure",
        inputs={},
        model_dir="outputs/model",
        checkpoint_dir="outputs/checkpoints",
        output_dir="outputs/output",
        num_gpus=accelerator.count if accelerator else 0,
        report="azure",
        hyperparameters_in_argv=True,
        # Every node mounts the same checkpoints output: each keeps its own folder in it.
        checkpoint_per_node=True,
    )


def environment(spec: JobSpec, secrets: dict[str, str], runtime: dict[str, Any]) -> dict:
    return {**spec.env, **secrets, RUNTIME_ENV: json.dumps(runtime, separators=(",", ":"))}


def data(
    spec: JobSpec, input_keys: dict[str, str], owner: str, literals: dict[str, str]
) -> dict[str, Any]:
    """``inputs`` (the data, then the ``literals``: key -> text) and ``outputs``; ``owner``
    names the output prefix (``mlx/<owner>/``)."""
    result: dict[str, Any] = {}
    mode = settings_of(spec).input_mode
    inputs: dict[str, Any] = {key: job_input(spec, name, mode) for name, key in input_keys.items()}
    inputs.update(literals)  # text, as the script receives it
    if inputs:
        result["inputs"] = inputs
    result["outputs"] = {kind: job_output(spec, kind, owner) for kind in OUTPUT_KINDS}
    return result


def job_input(spec: JobSpec, name: str, mode: str) -> dict[str, Any]:
    """A ``uri_folder`` or ``uri_file`` input. Local paths are uploaded by mlx to the
    datastore (``inputs``); a remote URI is a folder when it ends with ``/`` or its last
    segment has no extension; web URLs (not Azure Storage) are downloaded, there being
    nothing to mount."""
    upload = input_upload(spec, name)
    if upload is not None:
        kind = "uri_folder" if upload.source.is_dir() else "uri_file"
        return {"type": kind, "path": input_uri(upload), "mode": mode}
    uri = spec.inputs[name]
    scheme = uri_scheme(uri)
    if scheme not in _REMOTE_SCHEMES:
        raise SpecError(
            f"`inputs.{name}`: Azure ML cannot read {scheme}:// URIs",
            hint="Use azureml://, wasbs://, abfss:// or https:// (copy the data to Azure "
            "Storage first), or a local path, which is uploaded with the job.",
        )
    parts = urlsplit(uri)
    is_file = not parts.path.endswith("/") and "." in PurePosixPath(parts.path).name
    if scheme in ("http", "https") and not re.search(r"\.(blob|dfs)\.", parts.netloc):
        mode = "download"
    return {"type": "uri_file" if is_file else "uri_folder", "path": uri, "mode": mode}


def job_output(spec: JobSpec, kind: str, owner: str) -> dict[str, Any]:
    """A read-write mounted folder under ``mlx/<owner>/``, or the spec's azureml:// path."""
    given = spec.outputs.get(kind)  # type: ignore[call-overload]  # kind is one of OUTPUT_KINDS
    if given is not None and uri_scheme(given) != "azureml":
        raise SpecError(
            f"`outputs.{kind}`: Azure ML writes outputs to datastore paths (got {given})",
            hint="Give azureml://datastores/<name>/paths/<path>/, or leave it out: "
            f"artifacts go to mlx/<job>/{kind}/ on `azure.datastore`.",
        )
    if given is not None and owner == NAME and NAME not in given:
        raise SpecError(
            f"`outputs.{kind}`: every trial of an Azure ML sweep would write to {given}",
            hint="Put ${{name}} (each trial's job name) in the path, for example "
            f"{given.rstrip('/')}/${{{{name}}}}/, or leave it out.",
        )
    path = given or f"{artifacts_uri(settings_of(spec).datastore, owner)}{kind}/"
    return {"type": "uri_folder", "path": path, "mode": "rw_mount"}


NAME = "${{name}}"  # the job's (a sweep's trial's) own name, as Azure ML substitutes it


def output_location(spec: JobSpec, kind: str, native_id: str) -> tuple[str, str]:
    """``(datastore, path)`` where job (or trial) ``native_id`` wrote output ``kind``: the
    spec's ``outputs.<kind>`` (``${{name}}`` resolved) or ``mlx/<id>/<kind>/``."""
    given = spec.outputs.get(kind)  # type: ignore[call-overload]  # kind is one of OUTPUT_KINDS
    if given is None:
        return settings_of(spec).datastore, f"mlx/{native_id}/{kind}/"
    rest = given.replace(NAME, native_id)[len("azureml://") :]
    datastore, _, path = rest.removeprefix("datastores/").partition("/paths/")
    return datastore, path if path.endswith("/") else path + "/"
