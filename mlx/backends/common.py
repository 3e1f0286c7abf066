"""Helpers every backend needs the same way: secrets, the bootstrap's config, and the
machine for ``resources``. (Content digests of local inputs: ``mlx.cloud.objects``.)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional

from mlx.errors import SpecError

if TYPE_CHECKING:
    from mlx.catalog.resolver import Resolution
    from mlx.spec import JobSpec, Resources

MASK = "********"


def resolve_secrets(spec: JobSpec) -> dict[str, str]:
    """Secret values from their references, at submit time only."""
    values = {}
    for name, ref in spec.secrets.items():
        variable = ref[len("env:") :]
        if variable not in os.environ:
            raise SpecError(
                f"`secrets.{name}` refers to ${variable}, which is not set",
                hint=f"export {variable}=... before running mlx.",
            )
        values[name] = os.environ[variable]
    return values


def masked_secrets(spec: JobSpec) -> dict[str, str]:
    """What a rendered request shows for each secret: never its value."""
    return {name: MASK for name in spec.secrets}


def mask_secret_values(text: str, spec: JobSpec) -> str:
    """``text`` with the value of every secret of ``spec`` that is set replaced by the mask.

    Used on error messages at the backend boundary: a provider may echo a request (and so a
    secret resolved into it) in its validation error, and mlx prints and stores that text.
    """
    # Longest first, so a value containing another is masked whole.
    values = sorted(_set_secret_values(spec), key=len, reverse=True)
    for value in values:
        text = text.replace(value, MASK)
    return text


def _set_secret_values(spec: JobSpec) -> set[str]:
    variables = (ref[len("env:") :] for ref in spec.secrets.values())
    # Very short values would mask ordinary words; a real credential is longer.
    return {v for v in (os.environ.get(name, "") for name in variables) if len(v) >= 4}


def runtime_config(
    spec: JobSpec,
    job_id: str,
    provider: str,
    *,
    inputs: dict[str, str],
    model_dir: str,
    checkpoint_dir: str,
    output_dir: str,
    num_gpus: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """The bootstrap's config (``mlx.runtime.bootstrap``): what every provider tells it, plus
    the provider's own keys in ``extra`` (where its paths and reports are)."""
    return {
        "job_id": job_id,
        "provider": provider,
        "inputs": inputs,
        "model_dir": model_dir,
        "checkpoint_dir": checkpoint_dir,
        "output_dir": output_dir,
        "hyperparameters": spec.hyperparameters,
        "args_style": spec.args_style,
        "bool_style": spec.bool_style,
        # `compat: sagemaker`: the bootstrap lays out /opt/ml (mlx.runtime.compat_sagemaker).
        "compat": spec.compat,
        "metrics": [{"name": m.name, "regex": m.pattern} for m in spec.metrics],
        "num_nodes": spec.resources.nodes,
        "num_gpus": num_gpus,
        # code's requirements.txt (mlx.runtime.requirements); a provider may override.
        "requirements": "install" if spec.install_requirements and spec.code else "off",
        # The in-job module that adapts the job to its platform (``Provider.runtime_adapter``).
        "adapter": _runtime_adapter(provider),
        **extra,
    }


def _runtime_adapter(provider: str) -> Optional[str]:
    from mlx.providers import get

    return get(provider).runtime_adapter


def resolve_machine(provider: str, resources: Resources) -> Resolution:
    """The catalog's machine for ``resources`` on ``provider``; its ``instance_type``
    override wins."""
    from mlx.catalog.resolver import resolve

    return resolve(
        provider,
        accelerator=resources.accelerator_request,
        cpus=resources.cpus,
        memory_gb=resources.memory_gb,
        override=resources.instance_type.get(provider),
    )
