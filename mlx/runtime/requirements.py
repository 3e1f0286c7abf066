"""The code's ``requirements.txt``, before the command runs (standard library only).

The runtime config's ``requirements`` says what to do when the working folder has one:

- ``install`` (the clouds): ``<python> -m pip install -r requirements.txt`` in the working
  folder, as SageMaker's training toolkit does for a script
  (sagemaker-training-toolkit, src/sagemaker_training/modules.py ``install_requirements``:
  ``"{} -m pip install -r requirements.txt".format(process.python_executable())`` run
  with ``cwd`` the code folder; a failure raises ``InstallRequirementsError`` and the
  job fails). pip's output goes to the job's log; a failed install fails the job.
- ``venv`` (local ``--isolated``): the same install into a virtual environment in the
  job's folder, made once per job, whose ``bin`` leads the command's ``PATH``.
- ``warn`` (local, by default): nothing is installed into the user's Python; a
  requirement that Python does not have is named in a warning, with that Python.
- ``off`` (``install_requirements: false``): nothing.

``<python>`` is the Python the command runs (``python train.py``: that ``python`` on the
job's ``PATH``), else the one running the bootstrap.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from typing import Any, Optional

FILE = "requirements.txt"
VENV_READY = ".mlx-ready"  # written once the job's environment has its requirements
_PYTHON = re.compile(r"^python[0-9.]*$")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")

# Run by the job's Python: which distributions it lacks, and where it looks.
_PROBE = """
import json, site, sys
from importlib.metadata import PackageNotFoundError, distribution
missing = []
for name in sys.argv[1:]:
    try:
        distribution(name)
    except PackageNotFoundError:
        missing.append(name)
print(json.dumps({"python": sys.executable, "missing": missing,
                  "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
                  "site": site.getsitepackages()}))
"""


def job_python(command: list[str], env: dict[str, str]) -> str:
    """The Python the command runs, else the bootstrap's own."""
    if command and _PYTHON.match(os.path.basename(command[0])):
        found = shutil.which(command[0], path=env.get("PATH"))
        if found:
            return found
    return sys.executable


def requirement_names(text: str) -> list[str]:
    """The distribution names a requirements file asks for. Options (``-r``, ``-e``,
    ``--index-url``), paths and URLs name none; a line with an environment marker is left
    out too (deciding it needs the ``packaging`` library)."""
    names = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", ".", "/")) or ";" in line:
            continue
        if "://" in line and " @ " not in line:
            continue
        found = _NAME.match(line)
        if found:
            names.append(found.group(1))
    return names


def prepare(
    config: dict[str, Any], command: list[str], env: dict[str, str], log: Any
) -> tuple[dict[str, str], Optional[str]]:
    """``(env, failure)``: the command's environment (with the job's virtual environment
    first on ``PATH`` in ``venv`` mode), and why the job must fail, or None."""
    mode = config.get("requirements") or "off"
    workdir = config.get("workdir") or os.getcwd()
    path = os.path.join(workdir, FILE)
    if mode == "off" or not os.path.isfile(path):
        return env, None
    if mode == "install":
        return env, install(job_python(command, env), workdir, env, log)
    if mode == "venv":
        return in_venv(config, command, env, workdir, log)
    if int(config.get("node_rank") or 0) == 0:  # "warn": one word per job, not per node
        check(path, job_python(command, env), env, log)
    return env, None


def install(python: str, workdir: str, env: dict[str, str], log: Any) -> Optional[str]:
    """``python -m pip install -r requirements.txt`` in ``workdir``, its output in the
    job's log; the reason the job fails, or None."""
    log("installing %s with %s -m pip" % (FILE, python))
    sys.stdout.flush()
    argv = [python, "-m", "pip", "install", "--disable-pip-version-check", "-r", FILE]
    try:
        code = subprocess.call(argv, cwd=workdir, env=env, stderr=subprocess.STDOUT)
    except OSError as e:
        return "could not run %s -m pip: %s" % (python, e.strerror or e)
    if code != 0:
        return (
            "pip install -r %s failed (exit code %d); its output is above "
            "(`install_requirements: false` in the spec skips the install)" % (FILE, code)
        )
    return None


def check(path: str, python: str, env: dict[str, str], log: Any) -> None:
    """Warn about each requirement ``python`` does not have (installing nothing)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        names = requirement_names(f.read())
    found = probe(python, names, env)
    if found is None or not found["missing"]:
        return
    log(
        "%s asks for %s, not installed in %s (the Python this job runs): install them "
        "there, or run with --isolated to install %s into the job's own virtual "
        "environment" % (FILE, ", ".join(found["missing"]), found["python"], FILE)
    )


def probe(python: str, names: list[str], env: dict[str, str]) -> Optional[dict[str, Any]]:
    """What ``python`` reports about itself and ``names`` (None if it cannot say)."""
    try:
        out = subprocess.run(
            [python, "-c", _PROBE, *names], env=env, capture_output=True, check=True
        ).stdout
        return json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
    except (OSError, subprocess.CalledProcessError, ValueError, IndexError):
        return None


def in_venv(
    config: dict[str, Any], command: list[str], env: dict[str, str], workdir: str, log: Any
) -> tuple[dict[str, str], Optional[str]]:
    """Make (once per job: the nodes take turns) the job's environment and install into
    it; the command then finds that environment's ``python`` first on its ``PATH``."""
    venv = config["venv_dir"]
    with _locked(venv + ".lock"):
        if not os.path.exists(os.path.join(venv, VENV_READY)):
            failure = _make_venv(job_python(command, env), venv, env, log)
            failure = failure or install(_venv_python(venv), workdir, env, log)
            if failure:
                return env, failure
            open(os.path.join(venv, VENV_READY), "w").close()
    bin_dir = os.path.dirname(_venv_python(venv))
    path = bin_dir + os.pathsep + env.get("PATH", os.defpath)
    return {**env, "PATH": path, "VIRTUAL_ENV": venv}, None


def _make_venv(python: str, venv: str, env: dict[str, str], log: Any) -> Optional[str]:
    """``python -m venv --system-site-packages``: the job sees what ``python`` has (as a
    cloud job sees its image's packages) and pip adds only what is missing. When
    ``python`` is itself a virtual environment, whose packages ``--system-site-packages``
    would not show (it shows its base's), a ``.pth`` file names its site-packages
    (``site``: each line of a ``.pth`` file that names a folder is added to ``sys.path``,
    https://docs.python.org/3/library/site.html)."""
    log("making the job's virtual environment %s from %s" % (venv, python))
    shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an earlier try
    argv = [python, "-m", "venv", "--system-site-packages", venv]
    result = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.stdout.write(result.stdout.decode("utf-8", "replace"))
        return "could not make a virtual environment with %s -m venv" % python
    parent = probe(python, [], env)
    if parent and parent["venv"]:
        inner = probe(_venv_python(venv), [], env) or {"site": []}
        for folder in inner["site"]:
            if os.path.isdir(folder):
                with open(os.path.join(folder, "mlx-parent.pth"), "w") as f:
                    f.write("\n".join(parent["site"]) + "\n")
                break
    return None


def _venv_python(venv: str) -> str:
    if os.name == "nt":  # pragma: no cover - local jobs run on POSIX
        return os.path.join(venv, "Scripts", "python.exe")
    return os.path.join(venv, "bin", "python")


class _locked:
    """An exclusive ``flock`` on ``path`` (the nodes of one local job share a venv)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        import fcntl

        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_: Any) -> None:
        os.close(self.fd)
