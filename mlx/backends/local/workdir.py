"""Each local job's (and trial's) own working folder: ``<job dir>/code``.

A job runs in a copy of its ``code`` folder (the spec's folder when it has none), taken
when it is submitted, with the files a cloud upload would carry (``mlx.codetree``: less
``.mlxignore`` and the default skips). What the job writes beside its script — an
``mlruns/``, an ``mlflow.db``, a data file — stays in the job's folder, and parallel trials
writing the same file name each write their own.

How each file gets there, safest first — the job must never change the user's file:

1. a copy-on-write clone (Linux ``FICLONE``, where the file system has it: Btrfs, XFS,
   bcachefs...): no space, no time, and a write lands in the job's file only;
2. a hard link, only for a file nobody may write (no ``w`` bit for anyone) while the job
   does not run as root. A hard link *is* the user's file: a job opening it with ``"w"``
   would truncate the user's copy too. Without write permission that open fails, as it
   would have in the user's folder, and replacing the file (``os.replace``) or deleting
   it changes only the job's link. So large data files cost nothing once made read-only
   (``chmod a-w``);
3. otherwise a plain copy.

Symbolic links stay links: one into the code folder points into the job's copy, one out
of it at the same place as the user's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlx.errors import BackendError

# linux/fs.h: #define FICLONE _IOW(0x94, 9, int). "If a file write should occur to a
# shared region, the filesystem must ensure that the changes remain private to the file
# being written"; "both files must reside within the same filesystem" (else EXDEV); a file
# system without reflinks answers EOPNOTSUPP (FICLONE(2const),
# https://man7.org/linux/man-pages/man2/FICLONE.2const.html).
FICLONE = 0x40049409
_NO_CLONE = {errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EPERM}
LARGE_COPY = 1_000_000_000  # bytes copied (not cloned or linked) worth a word in the log


@dataclass
class Placed:
    """How many files were cloned, linked, copied, and the bytes really copied."""

    cloned: int = 0
    linked: int = 0
    copied: int = 0
    symlinks: int = 0
    copied_bytes: int = 0
    can_clone: bool = sys.platform.startswith("linux")

    def shown(self) -> dict[str, Any]:
        return {
            "cloned": self.cloned,
            "linked": self.linked,
            "copied": self.copied,
            "symlinks": self.symlinks,
            "copied_bytes": self.copied_bytes,
        }


def make_workdir(source: Path, target: Path, *, exclude: tuple[Path, ...] = ()) -> Placed:
    """Fill the new folder ``target`` with ``source``'s files (``exclude``: folders never
    entered, such as an mlx home inside a spec's folder)."""
    from mlx.codetree import walk

    placed = Placed()
    target.mkdir(parents=True, exist_ok=False)
    for name, path in walk(source, exclude=exclude):
        destination = target / name
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                _relink(path, destination, source, target)
                placed.symlinks += 1
            elif path.is_file():  # a FIFO or socket is no file to copy (reading one blocks)
                _place(path, destination, placed)
        except OSError as e:
            raise BackendError(
                f"could not copy {path} into the job's working folder: {e.strerror or e}",
                hint="Fix its permissions, or leave it out with a line in .mlxignore.",
            ) from None
    return placed


def _place(path: Path, destination: Path, placed: Placed) -> None:
    if placed.can_clone and _clone(path, destination, placed):
        placed.cloned += 1
        return
    info = path.stat()
    if not info.st_mode & 0o222 and os.geteuid() != 0:
        with contextlib.suppress(OSError):  # another file system: copied instead
            os.link(path, destination)
            placed.linked += 1
            return
    shutil.copy2(path, destination)
    placed.copied += 1
    placed.copied_bytes += info.st_size


def _clone(path: Path, destination: Path, placed: Placed) -> bool:
    """A copy-on-write clone of ``path``; False (and no more tries) where there is none."""
    import fcntl

    with open(path, "rb") as src, open(destination, "xb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
        except OSError as e:
            if e.errno not in _NO_CLONE:
                raise
            placed.can_clone = False  # this file system has none: not tried again
            cloned = False
        else:
            cloned = True
    if not cloned:
        destination.unlink()
        return False
    shutil.copystat(path, destination)
    return True


def _relink(path: Path, destination: Path, source: Path, target: Path) -> None:
    """``path``'s link in the copy: into the copy when it points inside ``source``."""
    resolved = Path(os.path.realpath(path))
    try:
        inside = resolved.relative_to(source.resolve())
    except ValueError:
        os.symlink(resolved, destination)
        return
    os.symlink(os.path.relpath(target / inside, destination.parent), destination)


def summary(placed: dict[str, Any], workdir: str) -> list[str]:
    """What ``mlx.log`` says about the copy: nothing, unless it copied much (the copy is
    plain to see in ``workdir`` and the plan's ``workdir_files``)."""
    from mlx.codetree import human_size

    if placed["copied_bytes"] < LARGE_COPY:
        return []
    return [
        f"copied {human_size(placed['copied_bytes'])} into this job's working folder "
        f"{workdir} (no copy-on-write clones on this file system): pass large data as "
        "`inputs:`, make it read-only (chmod a-w) to have it linked instead, or list it "
        "in .mlxignore"
    ]
