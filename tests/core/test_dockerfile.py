"""The Dockerfile: dependencies in their own layer, the store on a volume, a non-root user
under an init. (No Docker daemon answers here: the file is read, and its dependency step is
run against the real pyproject.toml.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order, continuation lines joined."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def index(kind: str, contains: str) -> int:
    return next(i for i, (k, rest) in enumerate(instructions()) if k == kind and contains in rest)


def test_dependencies_install_before_the_code_is_copied() -> None:
    steps = instructions()
    deps = index("RUN", "pip install -r requirements.txt")
    assert index("COPY", "pyproject.toml") < deps < index("COPY", "mlx ./mlx")
    copies_before = [rest for kind, rest in steps[:deps] if kind == "COPY"]
    assert copies_before == ["pyproject.toml ./"]  # nothing else can bust the layer
    assert "--no-deps" in steps[index("RUN", "pip install --no-deps")][1]


def test_the_dependency_step_lists_every_requirement_of_the_all_extra(tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as in the image
    run = instructions()[index("RUN", "requirements.txt")][1]
    code = re.search(r'python -c "(.*?)" >', run)
    assert code
    (tmp_path / "pyproject.toml").write_bytes((REPO / "pyproject.toml").read_bytes())
    listed = subprocess.run(
        [sys.executable, "-c", code.group(1)], cwd=tmp_path, capture_output=True, text=True
    ).stdout.split("\n")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = set(project["dependencies"])
    for extra in extras["all"][0].split("[")[1].rstrip("]").split(","):
        wanted |= set(extras[extra])
    assert set(filter(None, listed)) == wanted


def test_store_on_a_volume_non_root_user_under_tini() -> None:
    steps = instructions()
    env = " ".join(rest for kind, rest in steps if kind == "ENV")
    home = re.search(r"MLX_HOME=(\S+)", env)
    assert home
    assert ("VOLUME", home.group(1)) in steps
    users = [rest for kind, rest in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert steps[-2][0] == "ENTRYPOINT" and steps[-2][1].startswith('["tini", "--"')
    assert "tini" in steps[index("RUN", "apt-get install")][1]
