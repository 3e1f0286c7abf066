"""Pulling artifacts: glob selection, parallel downloads, skip-if-same, atomic writes.

Shared by every backend; a backend only lists files and writes one file to a path.
"""

from __future__ import annotations

import fnmatch
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from mlx.errors import BackendError, Interrupted, MlxError
from mlx.model import Artifact
from mlx.processes import alive


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


GLOB_CHARACTERS = frozenset("*?[")


def literal(include: list[str]) -> Optional[list[str]]:
    """The paths of ``include`` when none of them is a glob (None otherwise, or when there
    is none): what a listing can be narrowed to."""
    if not include or any(GLOB_CHARACTERS & set(p) for p in include):
        return None
    return [p.strip("/") for p in include]


def narrowest(prefixes: list[str]) -> list[str]:
    """``prefixes`` without those another one of them already covers (``a/b`` under ``a``)."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):
        if not any(prefix.startswith(k) for k in kept):
            kept.append(prefix)
    return kept


def narrowed(prefix: str, shown: str, paths: Optional[list[str]]) -> list[str]:
    """The key prefixes to list, of a place whose keys under ``prefix`` are shown as
    ``shown + <rest>``, for the literal ``paths`` (None: the whole place). A path above
    the place lists all of it; a path elsewhere, nothing."""
    if paths is None:
        return [prefix]
    found = []
    for path in paths:
        if path.startswith(shown):
            found.append(prefix + path[len(shown) :])
        elif not path or shown.startswith(path + "/"):
            found.append(prefix)
    return narrowest(found)


def listing(backend: Any, record: Any, include: list[str]) -> list[Artifact]:
    """The job's artifacts for ``include``: only at its paths when all are literal (a
    listing of the job's whole prefix can be thousands of pages), else all of them."""
    paths = literal(include)
    if paths is None:
        return list(backend.list_artifacts(record))
    return list(backend.list_artifacts_at(record, paths))


def safe_target(dest: Path, relative: str) -> Path:
    """``dest/relative``, refusing any path that would land outside ``dest`` or on ``dest``
    itself (a name ``.``, ``model/.`` or ``x/..``), or that names no file."""
    root = dest.resolve()
    parts = relative.replace("\\", "/").split("/")
    target = (root / relative).resolve()
    if (
        relative.startswith(("/", "\\"))
        or any(part in (".", "..") for part in parts)
        or not parts[-1]
        or target == root
        or root not in target.parents
    ):
        raise MlxError(
            f"refusing artifact path {relative!r}: it would not be a file inside {dest}",
            hint="The job's artifact listing contains an unsafe path; nothing was written.",
        )
    return target


CONFLICT_HINT = "Pull them one at a time with --include and separate --dest dirs."


def find_conflict(
    target: Path, files: set[Path], dirs: dict[Path, Path]
) -> Optional[tuple[Path, Path]]:
    """``(file, path below it)`` when ``target`` and a target seen before are a file and a
    directory of each other (``model`` and ``model/x``): one of them could not be written.
    Otherwise ``target`` is recorded in ``files`` and its directories in ``dirs`` (each with
    the first target below it), and None is returned."""
    if target in dirs:
        return target, dirs[target]
    for parent in target.parents:
        if parent in files:
            return parent, target
    files.add(target)
    for parent in target.parents:
        dirs.setdefault(parent, target)
    return None


def check_layout(targets: list[Path]) -> None:
    """Refuse listings where one artifact's path is a directory of another's. Checked
    before anything is written."""
    files: set[Path] = set()
    dirs: dict[Path, Path] = {}
    for target in targets:
        conflict = find_conflict(target, files, dirs)
        if conflict:
            parent, child = conflict
            raise MlxError(
                f"artifacts {str(parent)!r} and {str(child)!r} conflict: "
                "one is a file and a directory of the other",
                hint=CONFLICT_HINT,
            )


def check_dest(dest: Path) -> None:
    """``dest`` is a directory, or nothing yet (``make_dest`` creates it)."""
    if dest.exists() and not dest.is_dir():
        raise MlxError(
            f"--dest {dest} exists and is not a directory",
            hint="Give a directory (it is created when missing).",
        )


def make_dest(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MlxError(f"cannot create --dest {dest}: {e.strerror or e}") from e


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


PART_MARK = ".mlx-part-"


def part_path(target: Path) -> Path:
    """A temporary sibling of ``target``, unique to this process and thread."""
    return target.with_name(f".{target.name}{PART_MARK}{os.getpid()}-{threading.get_ident()}")


def sweep_parts(directories: set[Path]) -> None:
    """Remove part files that a pull killed before it could (``kill -9``, a crash) left in
    ``directories``: those of processes that no longer run."""
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            owner = name.rpartition(PART_MARK)[2].split("-", 1)[0]
            if PART_MARK in name and owner.isdigit() and not alive(int(owner)):
                (directory / name).unlink(missing_ok=True)


def write_error(path: Path, error: OSError) -> MlxError:
    """One line for a file that cannot be written (full disk, name too long, not a dir)."""
    return MlxError(
        f"cannot write {path}: {error.strerror or error}; nothing of it was kept",
        hint="Free some space, or choose another --dest.",
    )


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
    """Fetch ``artifacts`` into ``dest`` in parallel; each file lands atomically.

    Ctrl-C stops at once: transfers in flight are abandoned (their part files removed), and
    ``Interrupted`` says so. A file that cannot be written stops the pull the same way.
    """
    from mlx import progress
    from mlx.cloud import parts

    parts.concurrency(), parts.part_size()  # a bad setting is said before anything is written
    check_dest(dest)
    targets = [(a, safe_target(dest, a.path)) for a in artifacts]  # check all before writing
    check_layout([t for _, t in targets])
    make_dest(dest)
    sweep_parts({t.parent for _, t in targets})
    todo = [(a, t) for a, t in targets if not is_current(t, a, local_checksum)]
    skipped = [a.path for a, t in targets if (a, t) not in todo]
    total = sum(a.size for a, _ in todo)
    described = progress.describe("Pulling", len(todo))
    with progress.transfer(described, total, enabled=show_progress and bool(todo)) as advance:
        downloaded = _Batch(download, local_checksum, advance).run(todo)
    return PullResult(sorted(downloaded), skipped, dest, total)


class _Stopped(Exception):
    """Raised inside a transfer's progress callback once the pull is stopping."""


class _Batch:
    """Downloads on daemon threads: an interrupted pull returns at once rather than wait for
    transfers in flight (a pool's threads are joined at exit), and removes their parts."""

    def __init__(
        self, download: Download, local_checksum: Optional[LocalChecksum], advance: Any
    ) -> None:
        self.download, self.local_checksum, self._advance = download, local_checksum, advance
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.parts: set[Path] = set()
        self.folders: set[Path] = set()  # made already by this pull (a set's add is atomic)

    def advance(self, n: int) -> None:
        if self.stopping.is_set():
            raise _Stopped()
        with self.lock:
            self._advance(n)

    def fetch(self, artifact: Artifact, target: Path) -> str:
        # Few system calls per file: with ten threads on two cores each one can wait for
        # the GIL on its way back (100 small files: ~5 ms a file went there).
        part = part_path(target)
        with self.lock:
            self.parts.add(part)
        try:
            if target.parent not in self.folders:  # only folders made already are in it
                target.parent.mkdir(parents=True, exist_ok=True)
                self.folders.add(target.parent)
            # A name too long, a read-only dir: said before any byte is fetched.
            os.close(os.open(part, os.O_WRONLY | os.O_CREAT, 0o644))
        except OSError as e:
            with self.lock:
                self.parts.discard(part)
            raise write_error(target, e) from e
        placed = False
        try:
            self.download(artifact, part, self.advance)
            verify(part, artifact, self.local_checksum)
            os.replace(part, target)
            placed = True
        except OSError as e:
            raise write_error(target, e) from e
        finally:
            if not placed:
                part.unlink(missing_ok=True)
            with self.lock:
                self.parts.discard(part)
        return artifact.path

    def run(self, todo: list[tuple[Artifact, Path]]) -> list[str]:
        jobs: queue.Queue[Optional[tuple[Artifact, Path]]] = queue.Queue()
        results: queue.Queue[tuple[Optional[str], Optional[BaseException]]] = queue.Queue()
        for item in todo:
            jobs.put(item)
        from mlx.cloud.parts import concurrency

        # As many files at once as there are connections (``mlx.cloud.parts``): each file's
        # GETs hold one, so a small file's check and rename overlap others' reads.
        for _ in range(min(concurrency(), len(todo))):
            jobs.put(None)
            threading.Thread(target=self._work, args=(jobs, results), daemon=True).start()
        done: list[str] = []
        try:
            while len(done) < len(todo):
                path, error = results.get()
                if error is not None:
                    raise error
                done.append(str(path))
        except BaseException as e:
            self.stop()
            if isinstance(e, KeyboardInterrupt):
                raise Interrupted(
                    "pull interrupted; files already pulled are complete, none is half-written",
                    hint="Run it again to fetch the rest (complete files are skipped).",
                ) from None
            raise
        return done

    def _work(self, jobs: Any, results: Any) -> None:
        while (item := jobs.get()) is not None and not self.stopping.is_set():
            try:
                results.put((self.fetch(*item), None))
            except _Stopped:
                return
            except BaseException as e:  # reported in the pulling thread
                results.put((None, e))
                return

    def stop(self) -> None:
        """Abandon the transfers in flight and remove their part files now."""
        self.stopping.set()
        with self.lock:
            for part in self.parts:
                part.unlink(missing_ok=True)


def nothing_matches(job_id: str, include: list[str], exclude: list[str]) -> MlxError:
    """The error for a pull whose globs select nothing."""
    return MlxError(
        f"no artifacts of {job_id} match"
        + (f" --include {' '.join(include)}" if include else "")
        + (f" --exclude {' '.join(exclude)}" if exclude else ""),
        hint=f"`mlx pull-artifacts {job_id} --list` shows what there is.",
    )
