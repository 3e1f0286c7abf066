"""The code snapshot, and creating a job from its document without ever creating two.

The snapshot is what azure-ai-ml uploads as the job's ``code``: a copy of the user's code
dir (hard links where the file system allows, so it costs no space) plus the bootstrap at
``.mlx/mlx-bootstrap.pyz``; the user's directory is never modified. Without a ``code`` dir
it is a cached directory holding only the bootstrap. azure-ai-ml names uploads by content
hash and skips those it has: an unchanged code dir is uploaded once.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from mlx.backends.azure.clients import azure_errors
from mlx.backends.azure.layout import BOOTSTRAP, TAG
from mlx.bootstrap_package import bootstrap_bytes, bootstrap_path
from mlx.cloud.create import create_once
from mlx.errors import BackendError
from mlx.spec import JobSpec

_SKIP = shutil.ignore_patterns(".git", "__pycache__", ".mlx")


def bootstrap_only_dir(cache: Path, *, write: bool = True) -> Path:
    """``<cache>/azure-code-<digest>/`` holding just ``.mlx/mlx-bootstrap.pyz``."""
    zipapp = bootstrap_path(cache, write=False)
    root = cache / ("azure-code-" + zipapp.stem.rsplit("-", 1)[-1])
    if write and not (root / BOOTSTRAP).exists():
        staging = Path(tempfile.mkdtemp(prefix=".azure-code-", dir=_made(cache)))
        _add_bootstrap(staging)
        with contextlib.suppress(OSError):  # another mlx process won the race: fine
            os.rename(staging, root)
        shutil.rmtree(staging, ignore_errors=True)
    return root


def code_path(spec: JobSpec, cache: Path) -> Path:
    """What ``translate`` shows as ``code``: the user's dir, or the bootstrap-only dir."""
    return spec.code_dir() or bootstrap_only_dir(cache)


@contextlib.contextmanager
def snapshot(spec: JobSpec, cache: Path) -> Iterator[Path]:
    """The directory to upload as ``code``, removed again once the job is created."""
    source = spec.code_dir()
    if source is None:
        yield bootstrap_only_dir(cache)
        return
    root = Path(tempfile.mkdtemp(prefix="mlx-azure-code-"))
    try:
        target = root / source.name
        shutil.copytree(source, target, ignore=_SKIP, copy_function=_link_or_copy)
        _add_bootstrap(target)
        yield target
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)


def _add_bootstrap(root: Path) -> None:
    path = root / BOOTSTRAP
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bootstrap_bytes())


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def load(document: dict[str, Any]) -> Any:
    """The SDK's job entity for ``document``, through ``load_job`` as a YAML file would be."""
    import yaml
    from azure.ai.ml import load_job

    with tempfile.TemporaryDirectory(prefix="mlx-azure-job-") as directory:
        path = Path(directory) / "job.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        with azure_errors("load_job"):
            return load_job(path)


def create(ml: Any, document: dict[str, Any]) -> Any:
    """Create the job once (``mlx.cloud.create``). The name is mlx's: azure-core retries a
    PUT whose answer was lost with the same name (harmless); when every retry failed, a
    GET by name says whether the job exists after all."""
    job = load(document)
    name = document["name"]
    what = f"creating job {name}"

    def put() -> Any:
        # The code upload prints a colour reset to stderr whatever show_progress says
        # (azure/ai/ml/_artifacts/_blob_storage_helper.py, `print(Fore.RESET + "\n")`).
        with azure_errors(what), contextlib.redirect_stderr(io.StringIO()):
            return ml.jobs.create_or_update(job)

    return create_once(
        what,
        put,
        lambda: find(ml, name),
        # Not BackendUnavailable: without credentials, nothing was sent.
        is_lost=lambda error: isinstance(error, BackendError),
        attempts=1,  # azure-core's retries of the PUT were the attempts
    )


def find(ml: Any, name: str) -> Optional[Any]:
    """The job that mlx created as ``name`` (it carries mlx's tag), or None when there is
    none; raises when it cannot be read now."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        with azure_errors(f"jobs.get({name})"):  # missing credentials: BackendUnavailable
            job = ml.jobs.get(name)
    except BackendError as e:
        if isinstance(e.__cause__, ResourceNotFoundError):
            return None
        raise BackendError(f"job {name} may or may not have been created: {e}") from e
    return job if (job.tags or {}).get(TAG) == name else None
