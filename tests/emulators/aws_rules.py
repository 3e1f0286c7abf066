"""What SageMaker refuses, checked by the AWS test server before moto sees a request.

botocore validates types and required members client-side, not lengths, patterns, enums or
ranges, and moto checks almost nothing, so without these rules a request SageMaker answers
with ``400 ValidationException`` would pass every test. Two kinds of rule:

1. ``model_problems``: every constraint botocore's service model states for the request
   (``min``/``max`` of strings, lists, maps and numbers, ``pattern``, ``enum``), read from
   ``botocore/data/sagemaker/2017-07-24/service-2.json``, the model the real SDK is built
   from. Patterns are Java regexes matched whole, as the API reference writes them
   (``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``).
2. ``documented_problems``: rules in the API reference's prose that the model does not
   encode, each with its source beside it.

The answer is SageMaker's own shape: ``ValidationException`` with "N validation error(s)
detected: Value '...' at '...' failed to satisfy constraint: ...".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any, Callable, Optional

Problems = Iterator[str]


def problems(action: str, body: dict[str, Any]) -> Optional[str]:
    """SageMaker's ValidationException message for ``body``, or None when it is valid."""
    found = [*model_problems(action, body), *documented_problems(action, body)]
    if not found:
        return None
    noun = "error" if len(found) == 1 else "errors"
    return f"{len(found)} validation {noun} detected: " + "; ".join(found)


# ---- 1. the service model's constraints --------------------------------------------------


@functools.cache
def _service_model() -> Any:
    from botocore.session import get_session

    return get_session().get_service_model("sagemaker")


def model_problems(action: str, body: dict[str, Any]) -> list[str]:
    model = _service_model()
    if action not in model.operation_names:
        return []
    shape = model.operation_model(action).input_shape
    return list(_walk(shape, body, ""))


def _walk(shape: Any, value: Any, at: str) -> Problems:
    kind = shape.type_name
    if value is None:
        return
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                yield from _walk(member, value[name], f"{at}.{name}" if at else name)
    elif kind == "list" and isinstance(value, list):
        yield from _count(shape, value, at, "length")
        for i, item in enumerate(value):
            yield from _walk(shape.member, item, f"{at}.{i + 1}.member")
    elif kind == "map" and isinstance(value, dict):
        yield from _count(shape, value, at, "length")
        for key, item in value.items():
            yield from _walk(shape.key, key, f"{at}.{key}.key")
            yield from _walk(shape.value, item, f"{at}.{key}.value")
    elif kind == "string" and isinstance(value, str):
        yield from _string(shape, value, at)
    elif kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
        yield from _number(shape, value, at)


def _count(shape: Any, value: Any, at: str, what: str) -> Problems:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        yield _problem(value, at, f"Member must have {what} greater than or equal to {low}")
    if high is not None and len(value) > high:
        yield _problem(value, at, f"Member must have {what} less than or equal to {high}")


def _string(shape: Any, value: str, at: str) -> Problems:
    yield from _count(shape, value, at, "length")
    enum = shape.enum
    if enum and value not in enum:
        yield _problem(value, at, f"Member must satisfy enum value set: [{', '.join(enum)}]")
    pattern = shape.metadata.get("pattern")
    matcher = _matcher(pattern) if pattern else None
    if matcher is not None and not matcher(value):
        yield _problem(value, at, f"Member must satisfy regular expression pattern: {pattern}")


def _number(shape: Any, value: float, at: str) -> Problems:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        yield _problem(value, at, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        yield _problem(value, at, f"Member must have value less than or equal to {high}")


@functools.cache
def _matcher(pattern: str) -> Optional[Callable[[str], Any]]:
    """A whole-string matcher for a Java pattern; None for the few Python cannot read.

    ``\\p{L}``-style classes (tag keys and values, Lambda ARNs) need the ``regex`` module,
    which moto's server extra brings (through cfn-lint); without it they go unchecked.
    """
    try:
        return re.compile(pattern).fullmatch
    except re.error:
        pass
    try:
        import regex

        return regex.compile(pattern).fullmatch
    except Exception:
        return None


def _problem(value: Any, at: str, constraint: str) -> str:
    shown = value if isinstance(value, (str, int, float)) else type(value).__name__
    text = str(shown)
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"Value '{text}' at '{at}' failed to satisfy constraint: {constraint}"


# ---- 2. documented rules the model does not encode ---------------------------------------


def documented_problems(action: str, body: dict[str, Any]) -> list[str]:
    if action == "CreateTrainingJob":
        return [*_volume_key(body.get("ResourceConfig") or {}, "ResourceConfig"), *_image(body)]
    if action != "CreateHyperParameterTuningJob":
        return []
    found: list[str] = []
    definitions = _definitions(body)
    for at, definition in definitions:
        found += _volume_key(definition.get("ResourceConfig") or {}, f"{at}.ResourceConfig")
        found += _tuning_image(definition, at)
    found += _hyperband(body.get("HyperParameterTuningJobConfig") or {}, definitions)
    found += _tuning_environment(definitions)
    return found


def _definitions(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    if body.get("TrainingJobDefinition"):
        found.append(("TrainingJobDefinition", body["TrainingJobDefinition"]))
    for i, item in enumerate(body.get("TrainingJobDefinitions") or []):
        found.append((f"TrainingJobDefinitions.{i + 1}.member", item))
    return found


# ResourceConfig.VolumeKmsKeyId (service model and
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html):
# "You can't request a VolumeKmsKeyId when using an instance type with local storage. For a
# list of instance types that support local instance storage, see Instance Store Volumes"
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/InstanceStorage.html). The SageMaker
# training families (TrainingInstanceType's enum) that EC2's instance type specifications
# (https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html, gp.html, co.html, mo.html,
# "Instance store specifications") list with instance store volumes:
INSTANCE_STORE_FAMILIES = frozenset(
    {
        "g4dn",
        "g5",
        "g6",
        "g6e",
        "p3dn",
        "p4d",
        "p4de",
        "p5",
        "p5e",
        "p5en",
        "p6-b200",
        "p6-b300",
        "p6e-gb200",
        "r5d",
        "trn1",
        "trn1n",
        "trn2",
    }
)


def _volume_key(resources: dict[str, Any], at: str) -> Problems:
    instance = str(resources.get("InstanceType") or "")
    family = instance.split(".")[1] if instance.count(".") == 2 else ""
    if resources.get("VolumeKmsKeyId") and family in INSTANCE_STORE_FAMILIES:
        yield (
            f"Value '{resources['VolumeKmsKeyId']}' at '{at}.VolumeKmsKeyId' failed to "
            f"satisfy constraint: VolumeKmsKeyId is not supported for instance type "
            f"{instance}, which has local storage"
        )


# SageMaker pulls training images from Amazon ECR; an image in a private Docker registry
# needs AlgorithmSpecification.TrainingImageConfig.TrainingRepositoryAccessMode "Vpc" and the
# job's VpcConfig, the VPC the registry is reachable from ("Adapt your training job to access
# images in a private Docker registry": https://docs.aws.amazon.com/sagemaker/latest/dg/
# docker-containers-adapt-your-own-private-registry.html; ECR registry URIs:
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html).
ECR_IMAGE = re.compile(r"\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[^\s]+")


def _image(body: dict[str, Any]) -> Problems:
    algorithm = body.get("AlgorithmSpecification") or {}
    image = algorithm.get("TrainingImage")
    if not image or ECR_IMAGE.fullmatch(image):
        return
    access = (algorithm.get("TrainingImageConfig") or {}).get("TrainingRepositoryAccessMode")
    if access != "Vpc":
        yield (
            f"Value '{image}' at 'AlgorithmSpecification.TrainingImage' failed to satisfy "
            "constraint: the image must be in Amazon ECR, or TrainingRepositoryAccessMode "
            "must be Vpc for a private Docker registry"
        )
    elif not body.get("VpcConfig"):
        yield (
            "TrainingRepositoryAccessMode Vpc needs a VpcConfig: the private registry is "
            "reached through the training job's VPC"
        )


def _tuning_image(definition: dict[str, Any], at: str) -> Problems:
    # HyperParameterAlgorithmSpecification has no TrainingImageConfig: ECR only.
    image = (definition.get("AlgorithmSpecification") or {}).get("TrainingImage")
    if image and not ECR_IMAGE.fullmatch(image):
        yield (
            f"Value '{image}' at '{at}.AlgorithmSpecification.TrainingImage' failed to "
            "satisfy constraint: the image must be in Amazon ECR"
        )


# Hyperband (HyperParameterTuningJobConfig and HyperbandStrategyConfig in the service model;
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperbandStrategyConfig.html):
# - "TrainingJobEarlyStoppingType must be OFF to use Hyperband";
# - StrategyConfig "should be provided only if Hyperband is selected as the strategy";
# - without MaxResource, Hyperband "attempts to infer MaxResource from the following keys (if
#   present) in StaticHyperParameters: epochs, numepochs, n-epochs, n_epochs, num_epochs. If
#   HyperbandStrategyConfig is unable to infer a value for MaxResource, it generates a
#   validation error. The maximum value is 20,000 epochs."
EPOCHS_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
MAX_RESOURCE = 20_000


def _hyperband(config: dict[str, Any], definitions: list[tuple[str, dict[str, Any]]]) -> Problems:
    strategy_config = config.get("StrategyConfig")
    if config.get("Strategy") != "Hyperband":
        if strategy_config:
            yield "StrategyConfig is supported only with the Hyperband strategy"
        return
    if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        yield "TrainingJobEarlyStoppingType must be Off to use the Hyperband strategy"
    hyperband = (strategy_config or {}).get("HyperbandStrategyConfig") or {}
    most = hyperband.get("MaxResource")
    if most is None:
        most = _inferred_max_resource(definitions)
    if most is None:
        yield (
            "Hyperband cannot infer MaxResource: set StrategyConfig.HyperbandStrategyConfig."
            f"MaxResource or a static hyperparameter named one of {', '.join(EPOCHS_KEYS)}"
        )
    elif most > MAX_RESOURCE:
        yield f"MaxResource {most} is more than the maximum of {MAX_RESOURCE} epochs"
    least = hyperband.get("MinResource")
    if least is not None and most is not None and least > most:
        yield f"MinResource {least} is more than MaxResource {most}"


def _inferred_max_resource(definitions: list[tuple[str, dict[str, Any]]]) -> Optional[int]:
    for _, definition in definitions:
        static = definition.get("StaticHyperParameters") or {}
        for key in EPOCHS_KEYS:
            text = str(static.get(key, "")).strip('"')
            if text.isdigit():
                return int(text)
    return None


# HyperParameterTrainingJobDefinition.Environment (service model): "The maximum number of
# items specified for Map Entries refers to the maximum number of environment variables for
# each TrainingJobDefinition and also the maximum for the hyperparameter tuning job itself.
# That is, the sum ... for all the training job definitions can't exceed the maximum."
def _tuning_environment(definitions: list[tuple[str, dict[str, Any]]]) -> Problems:
    total = sum(len(d.get("Environment") or {}) for _, d in definitions)
    if len(definitions) > 1 and total > 48:
        yield f"the training job definitions have {total} environment variables; at most 48"
