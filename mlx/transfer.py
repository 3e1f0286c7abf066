"""Pulling artifacts: glob selection, parallel downloads, skip-if-same, atomic writes.

Shared by every backend; a backend only lists files and writes one file to a path.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from mlx.errors import BackendError, MlxError
from mlx.model import Artifact

MAX_PARALLEL = 8


def matches(path: str, pattern: str) -> bool:
    """``pattern`` (a glob) matches ``path`` or a directory above it (``model`` matches
    ``model/x.json``)."""
    pattern = pattern.strip("/")
    return fnmatch.fnmatchcase(path, pattern) or path.startswith(pattern + "/")


def wanted(path: str, include: list[str], exclude: list[str]) -> bool:
    """Matches any ``include`` glob (or there is none) and no ``exclude`` glob."""
    if include and not any(matches(path, p) for p in include):
        return False
    return not any(matches(path, p) for p in exclude)


def select(artifacts: list[Artifact], include: list[str], exclude: list[str]) -> list[Artifact]:
    """Artifacts matching any ``include`` glob (all when none) and no ``exclude`` glob.

    A glob also matches a directory prefix: ``model`` selects everything under ``model/``.
    """
    return [a for a in artifacts if wanted(a.path, include, exclude)]


def safe_target(dest: Path, relative: str) -> Path:
    """``dest/relative``, refusing any path that would land outside ``dest``."""
    root = dest.resolve()
    target = (root / relative).resolve()
    if relative.startswith(("/", "\\")) or (target != root and root not in target.parents):
        raise MlxError(
            f"refusing artifact path {relative!r}: it would be written outside {dest}",
            hint="The job's artifact listing contains an unsafe path; nothing was written.",
        )
    return target


LocalChecksum = Callable[[Path, Artifact], Optional[str]]


def is_current(target: Path, artifact: Artifact, local_checksum: LocalChecksum | None) -> bool:
    """True when ``target`` already holds ``artifact`` (same size, and same checksum or newer).

    ``local_checksum(target, artifact)`` computes the local file's checksum in the form of
    ``artifact.checksum`` (an S3 multipart ETag needs the part count); None: not computable.
    """
    try:
        stat = target.stat()
    except FileNotFoundError:
        return False
    if stat.st_size != artifact.size:
        return False
    if artifact.checksum and local_checksum is not None:
        local = local_checksum(target, artifact)
        if local is not None:
            return local == artifact.checksum
    return artifact.modified is not None and stat.st_mtime >= artifact.modified


def verify(part: Path, artifact: Artifact, local_checksum: LocalChecksum | None) -> None:
    """Refuse a download whose bytes do not match the checksum the provider listed.

    Runs on the part file, before the rename: a corrupted transfer never reaches the
    destination. Skipped when the provider gave no checksum or the backend cannot compute
    one in its form (an S3 multipart ETag of an unknown part size).
    """
    if not artifact.checksum or local_checksum is None:
        return
    got = local_checksum(part, artifact)
    if got is not None and got != artifact.checksum:
        raise BackendError(
            f"checksum mismatch for {artifact.path}: expected {artifact.checksum}, got {got}; "
            "nothing was written",
            hint="Run pull-artifacts again; a file the job is still writing can change.",
        )


def part_path(target: Path) -> Path:
    """A temporary sibling of ``target``, unique to this process and thread."""
    return target.with_name(f".{target.name}.mlx-part-{os.getpid()}-{threading.get_ident()}")


@dataclass
class PullResult:
    downloaded: list[str]
    skipped: list[str]
    dest: Path
    bytes: int


Download = Callable[[Artifact, Path, Callable[[int], None]], None]


def pull(
    artifacts: list[Artifact],
    dest: Path,
    download: Download,
    *,
    local_checksum: Optional[LocalChecksum] = None,
    show_progress: bool = True,
) -> PullResult:
    """Fetch ``artifacts`` into ``dest`` in parallel; each file lands atomically."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from mlx.console import err

    targets = [(a, safe_target(dest, a.path)) for a in artifacts]  # check all before writing
    todo = [(a, t) for a, t in targets if not is_current(t, a, local_checksum)]
    skipped = [a.path for a, t in targets if (a, t) not in todo]
    total = sum(a.size for a, _ in todo)
    lock = threading.Lock()
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(
        *columns, console=err, disable=not show_progress or not todo, transient=True
    ) as progress:
        task = progress.add_task(f"Pulling {len(todo)} file(s)", total=total)

        def advance(n: int) -> None:
            with lock:
                progress.update(task, advance=n)

        def fetch(artifact: Artifact, target: Path) -> str:
            target.parent.mkdir(parents=True, exist_ok=True)
            part = part_path(target)
            try:
                download(artifact, part, advance)
                verify(part, artifact, local_checksum)
                os.replace(part, target)
            finally:
                part.unlink(missing_ok=True)
            return artifact.path

        with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
            futures = [pool.submit(fetch, a, t) for a, t in todo]
            downloaded = [f.result() for f in as_completed(futures)]
    return PullResult(sorted(downloaded), skipped, dest, total)


def nothing_matches(job_id: str, include: list[str], exclude: list[str]) -> MlxError:
    """The error for a pull whose globs select nothing."""
    return MlxError(
        f"no artifacts of {job_id} match"
        + (f" --include {' '.join(include)}" if include else "")
        + (f" --exclude {' '.join(exclude)}" if exclude else ""),
        hint=f"`mlx pull-artifacts {job_id} --list` shows what there is.",
    )
