"""A writable ``/opt/ml`` for containers the sandbox runs on Vertex AI's and Azure ML's runners.

A container's own file system is writable, and containers run as root on Vertex AI and Azure
ML unless their image names another user (``mlx.runtime.compat_sagemaker``), so a SageMaker
bring-your-own image run there (``compat: sagemaker``) can have its ``/opt/ml`` made by the
bootstrap. The sandbox stands in for the image with the host's file system, read-only: a
folder of the run's bound at ``/opt/ml`` stands in for that part of the image's writable
layer. With Docker, the real image's layer is used and nothing is bound.
"""

from __future__ import annotations

from pathlib import Path

from mlx.runner.host import Host

OPT_ML = "/opt/ml"


def image_layer(host: Host, folder: Path) -> dict[str, Path]:
    """The mount to add to a container's under the sandbox (``folder`` is made)."""
    if host.runtime.name != "sandbox":
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    return {OPT_ML: folder}
