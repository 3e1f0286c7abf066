"""Local jobs with ``compat: sagemaker``: each node runs in the platform runner's sandbox.

A SageMaker bring-your-own container reads and writes ``/opt/ml``; on this machine that path
is not the job's to create (and must never be shared by two jobs). So such a job's nodes run
in ``mlx.runner.sandbox.SandboxRuntime`` (Linux user + mount namespaces; the host read-only
inside), with ``/opt/ml`` bound to ``<job dir>/opt-ml/node-<rank>/``, where the bootstrap
lays the tree out (``mlx.runtime.compat_sagemaker``). Nothing is written to the real
``/opt/ml``. The job's own folders stay writable at their own paths: the job dir, the
working folder, the local inputs (as every local job has them) and the bootstrap itself.

Every other local job runs as before: a plain process (``run.Supervisor``).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlx.errors import BackendUnavailable, SpecError
from mlx.runner.container import Container
from mlx.runner.sandbox import SandboxRuntime
from mlx.runtime.contract import hosts_for

OPT_ML = "/opt/ml"
# The sandbox sets PATH (its `python` shims first) and HOME, as an image does.
_IMAGE_OWN = ("PATH", "HOME")
# The container's stderr joins its stdout, as a plain local job's does.
_MERGED = ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh"]


def wants_sandbox(plan: dict[str, Any]) -> bool:
    return (plan.get("runtime") or {}).get("compat") == "sagemaker"


def check(spec: Any) -> None:
    """Before a local ``compat: sagemaker`` job starts: the sandbox can run here, and an
    empty command's ``train`` (what SageMaker runs: ``docker run IMAGE train``) exists."""
    if shutil.which("unshare") is None:
        raise BackendUnavailable(
            "`compat: sagemaker` runs local jobs in a sandbox, which needs `unshare` (util-linux)",
            hint="Install util-linux, or run the job on a cloud provider.",
        )
    if spec.command_argv() == ["train"] and shutil.which("train") is None:
        raise SpecError(
            f"{spec.source}: `command` is empty, so the job runs `train` as SageMaker runs a "
            "bring-your-own image, and there is no `train` on this machine's PATH",
            hint="Set `command:` (e.g. python train.py), or put the image's `train` on PATH.",
        )


def start_node(
    plan: dict[str, Any], rank: int, env: dict[str, str], say: Callable[[str], None]
) -> subprocess.Popen[bytes]:
    """Start node ``rank``'s bootstrap in a sandbox; its stdout carries stderr too."""
    job_dir = Path(plan["job_dir"])
    opt_ml = job_dir / "opt-ml" / f"node-{rank}"
    opt_ml.mkdir(parents=True, exist_ok=True)
    # In the job dir: the sandbox's command line then names it, as stop_orphaned_nodes
    # requires before it signals a node whose supervisor died.
    scratch = job_dir / "sandbox" / f"node-{rank}"
    container = Container(
        image=str(plan.get("image") or "local"),
        entrypoint=list(_MERGED),
        args=list(plan["bootstrap"]),
        env={k: v for k, v in env.items() if k not in _IMAGE_OWN},
        mounts={OPT_ML: opt_ml, **_own_paths(plan), **_command_folder(plan, env)},
        workdir=plan["workdir"],
        hostname=hosts_for(rank + 1)[rank],
    )
    child = SandboxRuntime(scratch).start(container)
    # Not a daemon: the supervisor's exit waits for the scratch folder to go (the pipe
    # closes when the container's process ends: the job's own stderr is its stdout).
    threading.Thread(target=_drain, args=(child, say, scratch)).start()
    return child


def _own_paths(plan: dict[str, Any]) -> dict[str, Path]:
    """The job's folders and files, writable at their own paths inside the sandbox."""
    paths = [plan["job_dir"], plan["workdir"], *(plan["runtime"].get("inputs") or {}).values()]
    paths += [plan["bootstrap_code"]] if plan.get("bootstrap_code") else []
    return {str(path): Path(path) for path in paths if Path(path).exists()}


def _command_folder(plan: dict[str, Any], env: dict[str, str]) -> dict[str, Path]:
    """The folder of a command found on PATH (an empty command's `train`): in view inside
    even where the sandbox's fresh /tmp would hide it."""
    argv = plan["bootstrap"]
    word = argv[argv.index("--") + 1] if "--" in argv[:-1] else ""
    found = shutil.which(word, path=env.get("PATH")) if word and "/" not in word else None
    folder = Path(found).parent if found else None
    # Elsewhere the host's folders are in view already (read-only).
    return {str(folder): folder} if folder and folder.is_relative_to("/tmp") else {}


def _drain(child: subprocess.Popen[bytes], say: Callable[[str], None], scratch: Path) -> None:
    """What the sandbox itself says (it could not start the job) goes to mlx.log; its
    scratch folder goes once the node has ended."""
    assert child.stderr is not None
    for raw in iter(child.stderr.readline, b""):
        say(raw.decode("utf-8", "replace").rstrip("\r\n"))
    child.wait()
    shutil.rmtree(scratch, ignore_errors=True)
    with contextlib.suppress(OSError):  # the job's folder, once its last node is done
        scratch.parent.rmdir()
