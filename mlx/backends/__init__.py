"""The backend registry: provider name -> import path, imported only when used.

``mlx --help`` must not pay for boto3, google-cloud or azure (1-2.5 s each to import), so
nothing here imports a backend module until ``get_backend`` is called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mlx.errors import BackendUnavailable, MlxError

if TYPE_CHECKING:
    from mlx.backends.base import Backend

_BACKENDS = {
    "local": "mlx.backends.local:LocalBackend",
    "sagemaker": "mlx.backends.sagemaker:SageMakerBackend",
    "vertex": "mlx.backends.vertex:VertexBackend",
    "azure": "mlx.backends.azure:AzureBackend",
}
# What to install when a provider's SDK is missing.
_EXTRAS = {"sagemaker": "sagemaker", "vertex": "vertex", "azure": "azure"}
_PLANNED: tuple[str, ...] = ()


def available() -> list[str]:
    return list(_BACKENDS)


def get_backend(name: str) -> Backend:
    """An instance of provider ``name``'s backend.

    Raises:
        BackendUnavailable: the provider's SDK is not installed, or its backend is not
            part of this version of mlx.
    """
    target = _BACKENDS.get(name)
    if target is None:
        if name in _PLANNED:
            raise BackendUnavailable(
                f"the {name} backend is not available in this version of mlx",
                hint="Use `mlx translate` to see the request; run with --provider local.",
            )
        raise MlxError(
            f"unknown provider {name!r}",
            hint=f"Use one of: {', '.join((*_BACKENDS, *_PLANNED))}.",
        )
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        extra = _EXTRAS.get(name, name)
        raise BackendUnavailable(
            f"the {name} backend needs {e.name or 'a package that is not installed'}",
            hint=f"pip install 'mlx-jobs[{extra}]'",
        ) from e
    return getattr(module, class_name)()
