"""The code snapshot, and creating a job from its document without ever creating two.

The snapshot is what azure-ai-ml uploads as the job's ``code``: a copy of the user's code
dir less what its ``.mlxignore`` and mlx's default skips leave out (``mlx.codetree``;
hard links where the file system allows, so it costs no space) plus the bootstrap at
``.mlx/mlx-bootstrap.pyz``; the user's directory is never modified. Without a ``code`` dir
it is a cached directory holding only the bootstrap. azure-ai-ml names uploads by content
hash and skips those it has: an unchanged code dir is uploaded once.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
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
from mlx.runner.host import Stores
from mlx.spec import JobSpec

DEFAULT_DATASTORE = "workspaceblobstore"  # where azure-ai-ml uploads code and local inputs


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
        _copy_code(source, target)
        _add_bootstrap(target)
        keep_bootstrap(target)
        yield target
    finally:
        shutil.rmtree(root, ignore_errors=True)


# Re-includes the bootstrap's folder: azure-ai-ml tests every file (and, for the content
# hash, every folder) against every pattern and the last one that matches decides
# (azure/ai/ml/_utils/_asset_utils.py, IgnoreFile.is_file_excluded, 1.35.2), so these lines,
# last, win over any of the user's.
_KEEP_BOOTSTRAP = "# mlx: its bootstrap is always uploaded\n!/.mlx\n!/.mlx/**\n"


def keep_bootstrap(root: Path) -> None:
    """Make azure-ai-ml upload the bootstrap whatever the code dir's ignore file says.

    The SDK applies the root's ``.amlignore``, or when there is none its ``.gitignore``
    (``get_ignore_file``: ".amlignore takes precedence over .gitignore"); a ``.gitignore``
    with ``*.pyz`` or ``.*`` would drop ``.mlx/mlx-bootstrap.pyz`` and the job would fail at
    start. The snapshot gets an ``.amlignore`` holding the user's rules (from the file the
    SDK would have read) followed by ``_KEEP_BOOTSTRAP``; their other files are kept or left
    out exactly as before. Without an ignore file nothing changes (nor the content hash)."""
    rules = None
    for name in (".amlignore", ".gitignore"):
        if (root / name).is_file():
            rules = (root / name).read_text(encoding="utf-8", errors="replace")
            break
    if rules is None:
        return
    target = root / ".amlignore"
    target.unlink(missing_ok=True)  # a hard link to the user's own file: never write through it
    if rules and not rules.endswith("\n"):
        rules += "\n"
    target.write_text(rules + _KEEP_BOOTSTRAP, encoding="utf-8")


def _copy_code(source: Path, target: Path) -> None:
    """The files of ``source`` a job gets (its ``.mlxignore`` and the default skips:
    ``mlx.codetree``), linked into ``target``; a ``.mlx`` of the user's would be the
    bootstrap's folder, and is left out."""
    from mlx.codetree import code_files

    target.mkdir(parents=True)
    for name, path in code_files(source):
        if name == ".mlx" or name.startswith(".mlx/"):
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(str(path), str(target / name))


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


def stage_uploads(document: dict[str, Any], stores: Stores) -> dict[str, Any]:
    """``document`` with its code snapshot uploaded into ``stores`` as azure-ai-ml uploads
    it when it creates the job, and named by its datastore URI: ``LocalUpload/<content
    hash>/<name>`` on the workspace's default datastore, the files its own
    ``.amlignore``/``.gitignore`` rule keeps (``uploaded_files``). For ``--rehearse``; a
    real submit lets the SDK do it. (Local inputs are mlx's own uploads: ``inputs``.)"""
    staged = copy.deepcopy(document)
    for part in (staged, staged.get("trial") or {}):
        if part.get("code"):
            part["code"] = _upload_local(Path(part["code"]), stores)
    return staged


def uploaded_files(path: Path) -> list[tuple[Path, str]]:
    """(local file, name in the upload) of what azure-ai-ml uploads for ``path``: a file, or
    a folder's files less those its ignore file excludes (``.amlignore`` if there is one,
    else ``.gitignore``, in the folder's root only: azure/ai/ml/_utils/_asset_utils.py,
    ``get_ignore_file`` and ``get_upload_files_from_folder``, 1.35.2)."""
    from azure.ai.ml._utils._asset_utils import get_ignore_file, get_upload_files_from_folder

    if path.is_file():
        return [(path, path.name)]
    # (local path, upload name) pairs, though the SDK annotates them as strings
    found: list[Any] = get_upload_files_from_folder(
        path, prefix=path.name, ignore_file=get_ignore_file(path)
    )
    return [(Path(local), str(name)) for local, name in found]


def _upload_local(path: Path, stores: Stores) -> str:
    from azure.ai.ml._utils._asset_utils import get_content_hash, get_ignore_file

    digest = get_content_hash(path, get_ignore_file(path)) if path.is_dir() else None
    prefix = f"LocalUpload/{digest or hashlib.sha256(path.read_bytes()).hexdigest()}/"
    root = f"azureml://datastores/{DEFAULT_DATASTORE}/paths/{prefix}"
    store, key = stores(root)
    for local, name in uploaded_files(path):
        store.put_file(key + name, local)
    return root + path.name + ("/" if path.is_dir() else "")


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
