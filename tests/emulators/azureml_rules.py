"""What Azure ML refuses when a job is created, for the Azure ML test server (``azureml``).

``job_problem`` checks the body of ``PUT .../jobs/{name}`` the way the service and its SDK
define a valid job, each rule with its source:

1. The REST model: the body deserializes as azure-ai-ml's ``JobBase``
   (``azure/ai/ml/_restclient/arm_ml_service/models``, 1.35.2) and names no field that
   model lacks.
2. The SDK's schemas: the job, turned back into the SDK's entity and dumped, loads again
   with ``azure.ai.ml.load_job`` (the marshmallow ``CommandJobSchema``/``SweepJobSchema``)
   and passes the entity's own ``_validate`` (what ``jobs.create_or_update`` runs first).
3. The documented rules the SDK leaves to the service: expressions in the command name
   what the job defines; sweep limits, sampling and early termination as documented.

Azure SDKs are imported inside functions: this module loads in every test session.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any, Callable, Optional

JSON = dict[str, Any]

# azure-ai-ml 1.35.2 sends these though its REST model lacks them: "``resources`` exists
# on the 2023-08 SweepJob wire contract but was dropped from the arm_ml_service (2025-12)
# SweepJob model; assign it via wire-key so it still serializes"
# (azure/ai/ml/entities/_job/sweep/sweep_job.py, SweepJob._to_rest_object).
_WIRE_ONLY = {"properties.resources"}

# "The format for an expression is ${{ <expression> }}"; a command may reference
# ${{inputs.<input_name>}}, ${{outputs.<output_name>}} and, in sweep jobs only,
# ${{search_space.<hyperparameter>}} (client expressions,
# https://learn.microsoft.com/azure/machine-learning/concept-expressions).
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

# https://learn.microsoft.com/azure/machine-learning/how-to-tune-hyperparameters:
# "max_total_trials: ... Must be an integer between 1 and 1000"; "max_concurrent_trials:
# ... If specified, must be an integer between 1 and 100"; "Grid sampling can only be used
# with choice hyperparameters"; "Bayesian sampling only supports choice, uniform, and
# quniform distributions over the search space"; truncation_percentage "An integer value
# between 1 and 99".
_LIMITS = {"maxTotalTrials": (1, 1000), "maxConcurrentTrials": (1, 100)}
_SAMPLING_TYPES = {"Grid": {"choice"}, "Bayesian": {"choice", "uniform", "quniform"}}


def job_problem(name: str, body: JSON) -> Optional[str]:
    """Why Azure ML would refuse to create job ``name`` from ``body``; None: it would not."""
    from azure.ai.ml._restclient.arm_ml_service.models import JobBase

    try:
        rest = JobBase({**body, "name": name})
        job_type = rest.properties.job_type
    except Exception as e:  # the model cannot read it at all
        return f"the request body is not a job: {e}"
    if job_type not in ("Command", "Sweep"):
        return None  # these tests create no other kind
    props = body.get("properties") or {}
    checks: list[Callable[[], Optional[str]]] = [
        lambda: _unknown_fields(rest.properties),
        lambda: _sdk_schema(rest),
        lambda: _expressions(props),
        lambda: _strings(props),
    ]
    if job_type == "Sweep":
        checks.append(lambda: _sweep(props))
    return next((problem for check in checks if (problem := check())), None)


def _unknown_fields(value: Any) -> Optional[str]:
    found = _unknown(value, "properties")
    return f"unknown fields in the job: {', '.join(found)}" if found else None


def _unknown(value: Any, path: str) -> list[str]:
    """Keys of ``value`` (a deserialized REST model) that its model does not declare."""
    from azure.ai.ml._restclient.arm_ml_service._utils.model_base import Model

    found: list[str] = []
    if isinstance(value, Model):
        fields = type(value)._attr_to_rest_field
        names = {field._rest_name for field in fields.values()}
        found += [f"{path}.{key}" for key in value if key not in names]
        for attribute, field in fields.items():
            if field._rest_name in value:
                found += _unknown(getattr(value, attribute), f"{path}.{field._rest_name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _unknown(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _unknown(item, f"{path}[{index}]")
    return [p for p in found if p not in _WIRE_ONLY]


def _sdk_schema(rest: Any) -> Optional[str]:
    """The entity azure-ai-ml makes of the job loads again through ``load_job`` and passes
    ``_validate``, as a YAML file of it would before ``jobs.create_or_update``."""
    import yaml
    from azure.ai.ml import load_job
    from azure.ai.ml.entities import CommandJob
    from azure.ai.ml.sweep import SweepJob

    kind = CommandJob if rest.properties.job_type == "Command" else SweepJob
    try:
        entity = kind._load_from_rest(rest)
        document = json.loads(json.dumps(entity._to_dict(), default=str))
        loaded = load_job(io.StringIO(yaml.safe_dump(document)))
        result = loaded._validate() if hasattr(loaded, "_validate") else None
    except Exception as e:  # marshmallow's ValidationError, the SDK's own exceptions
        return f"azure-ai-ml refuses the job: {_first_lines(e)}"
    if result is not None and not result.passed:
        return f"azure-ai-ml refuses the job: {result.error_messages}"
    return None


def _first_lines(error: Exception) -> str:
    return " ".join(str(error).split())[:500]


def _expressions(props: JSON) -> Optional[str]:
    """Every ``${{...}}`` in the command names an input, an output or (sweeps) a
    search-space parameter the job defines."""
    command = props.get("command") or (props.get("trial") or {}).get("command") or ""
    defined = {"inputs": props.get("inputs") or {}, "outputs": props.get("outputs") or {}}
    if props.get("jobType") == "Sweep":
        defined["search_space"] = props.get("searchSpace") or {}
    for expression in _EXPRESSION.findall(command):
        kind, _, key = expression.partition(".")
        if key not in defined.get(kind, {}):
            return f"the command references ${{{{{expression}}}}}, which the job does not define"
    return None


def _strings(props: JSON) -> Optional[str]:
    """Literal inputs and environment variables are strings (REST ``LiteralJobInput.value``
    and ``environmentVariables``: ``str`` in the REST models)."""
    for key, job_input in (props.get("inputs") or {}).items():
        literal = job_input.get("jobInputType") == "literal"
        if literal and not isinstance(job_input.get("value"), str):
            return f"input {key}: a literal input's value is a string"
    variables = props.get("environmentVariables") or (props.get("trial") or {}).get(
        "environmentVariables"
    )
    for key, value in (variables or {}).items():
        if not isinstance(value, str):
            return f"environment variable {key}: values are strings"
    return None


def _sweep(props: JSON) -> Optional[str]:
    limits = props.get("limits") or {}
    for key, (low, high) in _LIMITS.items():
        if key in limits and not low <= limits[key] <= high:
            return f"limits.{key} must be between {low} and {high} (got {limits[key]})"
    algorithm = (props.get("samplingAlgorithm") or {}).get("samplingAlgorithmType")
    allowed = _SAMPLING_TYPES.get(algorithm)
    for key, (kind, *_rest) in (props.get("searchSpace") or {}).items():
        if allowed is not None and kind not in allowed:
            return f"{algorithm} sampling does not support {kind} (search_space.{key})"
    policy = props.get("earlyTermination") or {}
    # "Bayesian sampling does not support any early termination policy" (Azure ML SDK's
    # bayesian_parameter_sampling reference, e.g.
    # https://search.r-project.org/CRAN/refmans/azuremlsdk/html/bayesian_parameter_sampling.html).
    if algorithm == "Bayesian" and policy:
        return "Bayesian sampling does not support an early termination policy"
    percentage = policy.get("truncationPercentage")
    if percentage is not None and not 1 <= percentage <= 99:
        return f"truncation_percentage must be between 1 and 99 (got {percentage})"
    return None
