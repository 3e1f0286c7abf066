"""Which runtime starts a rehearsal's containers: Docker when a daemon answers, else the
sandbox."""

from __future__ import annotations

import shutil
import subprocess

from mlx.runner.container import Runtime


def docker_available() -> bool:
    """Whether a Docker daemon answers here (``docker version`` reaches the server)."""
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def pick_runtime(choice: str = "auto") -> Runtime:
    """``docker`` when asked for or when a daemon answers (``auto``), else ``sandbox``."""
    from mlx.runner.docker import DockerRuntime
    from mlx.runner.sandbox import SandboxRuntime

    if choice == "docker" or (choice == "auto" and docker_available()):
        return DockerRuntime()
    return SandboxRuntime()
