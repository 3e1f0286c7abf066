"""The sandbox runtime: a container as Linux user + mount (+ UTS) namespaces.

``unshare --user --map-root-user`` needs no privilege where unprivileged user namespaces
are allowed (the default on current kernels); the job runs as root inside, as containers
on SageMaker, Vertex AI and Azure ML do. The host's Python stands in for the image's:
``python`` and ``python3`` on the container's ``PATH`` are this Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from mlx.errors import BackendUnavailable
from mlx.runner.container import Container

SHIMS = "/.mlx-sandbox/bin"  # in the container: `python` -> the host's Python


class SandboxRuntime:
    name = "sandbox"
    note: Optional[str] = (
        "no Docker daemon here: the job ran in a sandbox with this machine's Python, "
        "not in its image"
    )

    def __init__(self, scratch: Optional[Path] = None, python: Optional[str] = None) -> None:
        self.scratch = scratch
        self.python = python or sys.executable

    def start(self, container: Container) -> subprocess.Popen[bytes]:
        unshare = shutil.which("unshare")
        if unshare is None:
            raise BackendUnavailable(
                "the sandbox needs `unshare` (util-linux)",
                hint="Install util-linux, or run with a Docker daemon.",
            )
        if self.scratch is not None:
            self.scratch.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="sandbox-", dir=self.scratch))
        root = base / "root"
        shims = root / SHIMS.lstrip("/")
        shims.mkdir(parents=True)
        for name in ("python", "python3"):
            shim = shims / name
            shim.write_text(f'#!/bin/sh\nexec {self.python} "$@"\n')
            shim.chmod(0o755)
        config = {
            "root": str(root),
            "mounts": {path: str(source) for path, source in container.mounts.items()},
            "read_only": self.python_folders(),
            "workdir": container.workdir,
            "hostname": container.hostname,
            "argv": container.argv,
            "env": self.environment(container),
        }
        # The config may hold secret values: a private file, deleted by `enter` at once.
        config_path = base / "config.json"
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f)
        argv = [unshare, "--user", "--map-root-user", "--mount", "--uts"]
        argv += ["--propagation", "private", "--", self.python, "-m", "mlx.runner.enter"]
        return subprocess.Popen(
            [*argv, str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )

    def python_folders(self) -> dict[str, str]:
        """The standing-in Python's folders that the container's fresh ``/tmp`` would hide
        (a virtualenv made under /tmp, as CI's may be): bound read-only at the same path."""
        pythons = (Path(self.python), Path(os.path.realpath(self.python)))
        folders = {sys.prefix, sys.base_prefix, *(str(p.parent.parent) for p in pythons)}
        return {f: f for f in sorted(folders) if Path(f).is_relative_to("/tmp")}

    def environment(self, container: Container) -> dict[str, str]:
        """An image's usual variables (this host's PATH behind the Python shims), then
        the platform's."""
        env = {
            "PATH": f"{SHIMS}:{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
            "HOME": "/root",
            "LANG": "C.UTF-8",
        }
        if container.hostname:
            env["HOSTNAME"] = container.hostname
        env.update(container.env)
        return env
