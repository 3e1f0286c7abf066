"""The Azure ML backend (``--provider azure``); see ``backend.py``.

Importing this package loads no Azure SDK (``import azure.ai.ml`` alone takes ~2 s): each
SDK is imported by the function that first needs it. Whether they are installed is checked
here, cheaply, so ``get_backend`` can say what to install.
"""

import importlib.util

for _module in ("azure.ai.ml", "azure.storage.blob", "azure.identity"):
    try:
        _found = importlib.util.find_spec(_module) is not None
    except ImportError:  # a missing parent package
        _found = False
    if not _found:
        raise ImportError(f"No module named {_module!r}", name=_module.replace(".", "-"))

from mlx.backends.azure.backend import AzureBackend  # noqa: E402

__all__ = ["AzureBackend"]
