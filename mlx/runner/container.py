"""One container to start, and the runtimes that start it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Protocol


@dataclass(frozen=True)
class Container:
    """What a platform starts for one node (or one process group) of a job.

    Attributes:
        image: the job's image (the Docker runtime pulls and runs it; the sandbox notes it).
        entrypoint: the entrypoint the platform sets in place of the image's (SageMaker's
            ``ContainerEntrypoint``, Vertex's ``command``); None keeps the image's.
        args: the arguments after it (``docker run IMAGE ARGS...``: SageMaker's ``train``).
        env: the variables the platform sets, on top of the image's own.
        mounts: container path -> host path, bind-mounted read-write.
        workdir: the working directory; None is the image's own WORKDIR.
        hostname: the node's host name (SageMaker's ``algo-1``...), where the platform
            names hosts.
    """

    image: str
    entrypoint: Optional[list[str]] = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    mounts: dict[str, Path] = field(default_factory=dict)
    workdir: Optional[str] = None
    hostname: Optional[str] = None

    @property
    def argv(self) -> list[str]:
        """What runs where the image's own entrypoint is not known (the sandbox): the
        entrypoint and its arguments, or the arguments alone."""
        return [*(self.entrypoint or []), *self.args]


class Runtime(Protocol):
    """Starts containers as host processes whose output the caller reads."""

    name: str  # "sandbox" | "docker"
    note: Optional[str]  # a one-line note for users (the sandbox: the image was not used)

    def start(self, container: Container) -> subprocess.Popen[bytes]:
        """Start ``container``; its stdout and stderr are pipes, it leads its own group."""
        ...
