"""``requirements.txt`` on the local provider (issue #14, item 7): nothing goes into the
user's Python; a missing requirement is a warning naming that Python; ``--isolated``
installs into a virtual environment of the job's own. No network: the wheel is built
here and pip is told ``--no-index``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from tests.conftest import write

PACKAGE = "mlxtinydep"

SCRIPT = f"""\
import json, os, sys
seen = {{"python": sys.executable}}
try:
    import {PACKAGE}
    seen["found"] = {PACKAGE}.__file__
except ImportError:
    seen["found"] = None
with open(os.path.join(os.environ["MLX_MODEL_DIR"], "seen.json"), "w") as f:
    json.dump(seen, f)
print("done")
"""


def tiny_wheel(folder: Path) -> Path:
    """``mlxtinydep-0.1-py3-none-any.whl``: one module, a valid RECORD."""
    files = {
        f"{PACKAGE}/__init__.py": b"VALUE = 1\n",
        f"{PACKAGE}-0.1.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 0.1\n".encode()
        ),
        f"{PACKAGE}-0.1.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: mlx-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{PACKAGE}-0.1.dist-info/RECORD,,")
    files[f"{PACKAGE}-0.1.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{PACKAGE}-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def project(root: Path, requirements: str) -> Path:
    write(root / "code" / "train.py", SCRIPT)
    write(root / "code" / "requirements.txt", requirements)
    tiny_wheel(root / "code" / "wheels")
    return write(root / "job.yaml", "name: deps\ncommand: python train.py\ncode: code\n")


def run(mlx: Any, spec: Path, *flags: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
    result = mlx("train", spec, "--json", *flags)
    job = json.loads(result.stdout)
    seen_file = Path(os.environ["MLX_HOME"]) / "jobs" / job["id"] / "artifacts/model/seen.json"
    seen = json.loads(seen_file.read_text()) if seen_file.exists() else {}
    return job, mlx("logs", job["id"]).stdout, seen


def user_python_has_it() -> bool:
    probe = [sys.executable, "-c", f"import {PACKAGE}"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def test_by_default_a_missing_requirement_is_a_warning_naming_the_jobs_python(
    mlx: Any, tmp_path: Path
) -> None:
    spec = project(tmp_path, f"--no-index\n--find-links wheels\n{PACKAGE}==0.1\npyyaml\n")
    job, log, seen = run(mlx, spec)
    assert job["state"] == "succeeded"
    assert seen["found"] is None  # nothing was installed
    assert (
        f"[mlx] requirements.txt asks for {PACKAGE}, not installed in {seen['python']} "
        "(the Python this job runs)"
    ) in log
    assert "--isolated" in log
    assert "pyyaml" not in log.split("asks for", 1)[1].split("not installed")[0]
    assert not user_python_has_it()


def test_isolated_installs_into_the_jobs_own_virtual_environment(mlx: Any, tmp_path: Path) -> None:
    spec = project(tmp_path, f"--no-index\n--find-links wheels\n{PACKAGE}==0.1\npyyaml\n")
    job, log, seen = run(mlx, spec, "--isolated")
    assert job["state"] == "succeeded", log
    venv = Path(os.environ["MLX_HOME"]) / "jobs" / job["id"] / "venv"
    assert seen["python"] == str(venv / "bin" / "python")
    assert seen["found"] is not None and seen["found"].startswith(str(venv))
    assert f"Successfully installed {PACKAGE}-0.1" in log
    assert "Requirement already satisfied: pyyaml" in log  # seen through the base Python
    assert not user_python_has_it()


def test_isolated_with_a_failed_install_fails_the_job(mlx: Any, tmp_path: Path) -> None:
    spec = project(tmp_path, "--no-index\nmlx-no-such-dist==1.0\n")
    job, log, seen = run(mlx, spec, "--isolated")
    assert job["state"] == "failed"
    assert "No matching distribution found for mlx-no-such-dist==1.0" in log
    assert "pip install -r requirements.txt failed (exit code 1)" in log
    assert seen == {}  # the script never ran
