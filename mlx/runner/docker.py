"""The Docker runtime: the job's real image, with the platform's mounts and variables."""

from __future__ import annotations

import subprocess
from typing import Optional

from mlx.runner.container import Container


class DockerRuntime:
    name = "docker"
    note: Optional[str] = None

    def command(self, container: Container) -> list[str]:
        """The ``docker run`` command line for ``container`` (variables by name only:
        their values go through the environment, never the command line)."""
        argv = ["docker", "run", "--rm", "--init", "--network", "host"]
        for path, source in sorted(container.mounts.items()):
            argv += ["--volume", f"{source}:{path}"]
        for name in sorted(container.env):
            argv += ["--env", name]
        if container.workdir:
            argv += ["--workdir", container.workdir]
        if container.hostname:
            argv += ["--hostname", container.hostname]
        if container.entrypoint:
            first, *rest = container.entrypoint
            return [*argv, "--entrypoint", first, container.image, *rest, *container.args]
        return [*argv, container.image, *container.args]

    def start(self, container: Container) -> subprocess.Popen[bytes]:
        import os

        return subprocess.Popen(
            self.command(container),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env={**os.environ, **container.env},
        )
