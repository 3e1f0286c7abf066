"""What azure-ai-ml uploads as the job's code (issue #14, item 6): the snapshot mlx makes
honours ``.mlxignore`` and the default skips, and the SDK's own ``.amlignore`` still
applies on top; the blobs Azurite received show it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.backends.azure.conftest import Azure, azure_spec
from tests.conftest import write

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def uploaded(azure: Azure) -> list[str]:
    [code] = azure.server.requests("PUT codes")
    uri = code.json["properties"]["codeUri"]  # <azurite>/<container>/<asset>/code
    container, folder = uri[len(azure.server.azurite.url) + 1 :].split("/", 1)
    client = azure.server.azurite.service_client().get_container_client(container)
    blobs = client.list_blobs(name_starts_with=folder + "/")
    return sorted(b.name[len(folder) + 1 :] for b in blobs)


def test_the_code_upload_honours_mlxignore_amlignore_and_the_default_skips(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    spec = azure_spec(tmp_path)
    code = tmp_path / "project" / "code"
    for name in (".git/HEAD", "__pycache__/m.pyc", ".mypy_cache/x", "mlruns/0/meta.yaml",
                 "mlflow.db", ".venv/pyvenv.cfg", "conda/pyvenv.cfg", "conda/lib/x.py",
                 "notes/draft.md", "data/big.ckpt", "data/keep.ckpt", "tmp.log"):  # fmt: skip
        write(code / name, "x")
    write(code / ".mlxignore", "notes/\n*.ckpt\n!keep.ckpt\n")
    write(code / ".amlignore", "*.log\n")  # azure-ai-ml's own rule, applied as before
    before = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
    result = mlx("train", spec, "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    assert uploaded(azure) == [
        ".amlignore",
        ".mlx/mlx-bootstrap.pyz",
        ".mlxignore",
        "data/keep.ckpt",
        "train.py",
    ]
    after = sorted(p.relative_to(code).as_posix() for p in code.rglob("*") if p.is_file())
    assert after == before  # the snapshot is mlx's; the user's folder is as it was
    assert json.loads(result.stdout)["state"] == "pending"
