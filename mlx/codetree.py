"""Which files of a ``code`` folder a job gets: every provider's upload, and local's copy.

Left out by default: version-control folders, virtual environments (a folder named
``.venv``/``venv``, or any folder holding a ``pyvenv.cfg``, as ``python -m venv`` writes
one), caches, and what local runs of a script leave behind (``mlruns/``, ``mlflow.db``).
A ``.mlxignore`` in the folder's root adds rules in ``.gitignore`` syntax, matched by
``pathspec``'s ``GitIgnoreSpec`` (Git's own rules: the last matching pattern wins, ``!``
re-includes, a file in a left-out folder cannot be re-included); the defaults come first,
so ``!mlruns/`` there brings ``mlruns/`` back. Virtual environments are always left out.

Symbolic links are followed to files (their content is sent), never into folders.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

IGNORE_FILE = ".mlxignore"

# Folders left out wherever they are (`name/` in gitignore terms).
DEFAULT_FOLDERS = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    ".tox",
    ".nox",
    "mlruns",
)
# Files left out wherever they are: MLflow's default SQLite store (MLflow 3.x).
DEFAULT_FILES = ("mlflow.db",)

Skip = Callable[[str, bool], bool]  # (relative posix path, is a folder) -> left out


@dataclass(frozen=True)
class Listing:
    """What a folder (or a single file) contributes: counts for ``translate``."""

    files: int
    bytes: int
    largest: tuple[tuple[str, int], ...]  # (relative path, size), biggest first

    def shown(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "largest": [{"path": p, "bytes": b} for p, b in self.largest],
        }


def skip_rule(root: Path) -> Skip:
    """The rule for ``root``: the defaults, then its ``.mlxignore`` if it has one.

    Without a ``.mlxignore`` the defaults are plain name checks (no pattern library is
    imported); with one, they become its first lines, so the user's ``!`` lines win.
    """
    ignore = root / IGNORE_FILE
    if not ignore.is_file():
        folders, files = frozenset(DEFAULT_FOLDERS), frozenset(DEFAULT_FILES)

        def by_name(relative: str, is_dir: bool) -> bool:
            name = relative.rsplit("/", 1)[-1]
            return name in folders if is_dir else name in files

        return by_name
    import pathspec  # a few ms: only when there is a .mlxignore

    lines = [f"{name}/" for name in DEFAULT_FOLDERS] + list(DEFAULT_FILES)
    lines += ignore.read_text(encoding="utf-8", errors="replace").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)

    def by_pattern(relative: str, is_dir: bool) -> bool:
        return spec.match_file(relative + "/" if is_dir else relative)

    return by_pattern


def walk(root: Path, *, exclude: tuple[Path, ...] = ()) -> Iterator[tuple[str, Path]]:
    """(relative posix name, path) of each entry of ``root`` a job gets, in sorted order:
    regular files, and symbolic links to anything (callers decide what a link becomes).

    Args:
        exclude: absolute folders never entered (local's mlx home inside a spec's folder).
    """
    skip = skip_rule(root)
    excluded = {str(p) for p in exclude}
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        relative = base.relative_to(root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        kept = []
        for name in sorted(dirs):
            path = base / name
            if path.is_symlink():  # never entered: offered to the caller as an entry
                if not skip(prefix + name, True):
                    yield prefix + name, path
            elif not (
                skip(prefix + name, True)
                or str(path) in excluded
                or (path / "pyvenv.cfg").is_file()
            ):
                kept.append(name)
        dirs[:] = kept  # os.walk enters only these, in this order
        for name in sorted(files):
            if not skip(prefix + name, False):
                yield prefix + name, base / name


def code_files(root: Path, *, exclude: tuple[Path, ...] = ()) -> Iterator[tuple[str, Path]]:
    """(relative name, path) of the files an upload of ``root`` sends: files and links to
    files (their content); links to folders are not followed."""
    for name, path in walk(root, exclude=exclude):
        if path.is_file():
            yield name, path


def listing(files: Iterator[tuple[str, Path]], top: int = 5) -> Listing:
    """Count and size of ``files``, and the ``top`` largest."""
    count = total = 0
    sizes: list[tuple[int, str]] = []
    for name, path in files:
        size = path.stat().st_size
        count += 1
        total += size
        heapq.heappush(sizes, (size, name))
        if len(sizes) > top:
            heapq.heappop(sizes)
    largest = tuple((name, size) for size, name in sorted(sizes, reverse=True))
    return Listing(count, total, largest)


def source_listing(source: Path, *, code: bool, exclude: tuple[Path, ...] = ()) -> Listing:
    """The listing of an upload of ``source``: a code folder (these rules) or an input."""
    if source.is_file():
        return listing(iter([(source.name, source)]))
    if code:
        return listing(code_files(source, exclude=exclude))
    return listing(plain_files(source))


def plain_files(source: Path) -> Iterator[tuple[str, Path]]:
    """Every file of an input folder, less ``__pycache__`` (inputs are data: no rules)."""
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path.relative_to(source).as_posix(), path


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns


def describe(listing_: Listing, source: Optional[str] = None) -> str:
    """``3 files, 1.2 MB (largest: data.bin 1.1 MB, ...)`` for a person."""
    text = f"{listing_.files} file{'s' * (listing_.files != 1)}, {human_size(listing_.bytes)}"
    if listing_.largest and listing_.files > 1:
        shown = ", ".join(f"{p} {human_size(b)}" for p, b in listing_.largest[:3])
        text += f" (largest: {shown})"
    return f"{source}: {text}" if source else text
