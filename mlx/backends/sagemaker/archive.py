"""Members of a ``model.tar.gz`` mlx did not write, read straight from S3.

The archive is streamed (``tarfile`` mode ``r|gz``): nothing is downloaded whole, memory is
bounded, and when every ``--include`` names one member exactly, reading stops as soon as
the last of them is out — pulling a small file stored before a large checkpoint reads a
fraction of the archive. Members are written through ``transfer.safe_target`` into
``--dest`` only: an absolute path, a ``..`` or a link that leaves ``--dest`` is refused,
and links are never created.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Optional

from mlx import transfer
from mlx.errors import MlxError
from mlx.model import Artifact

if TYPE_CHECKING:
    from mlx.cloud.objects import ObjectStore

_GLOB = re.compile(r"[*?\[]")
CHUNK = 1 << 20
STREAM_READ = 32 << 10


class CountingReader(io.RawIOBase):
    """A read-only stream over a store's object stream that counts the bytes it hands out."""

    def __init__(self, body: Any, on_read: Optional[Callable[[int], None]] = None) -> None:
        self.body, self.count, self.on_read = body, 0, on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        if self.on_read and data:
            self.on_read(len(data))
        return len(data)


@contextmanager
def open_stream(
    store: ObjectStore, key: str, on_read: Optional[Callable[[int], None]] = None
) -> Iterator[tuple[tarfile.TarFile, CountingReader]]:
    body = store.open(key)
    reader = CountingReader(body, on_read)
    try:
        # Small reads: stopping after a small member must not have read far past it.
        with tarfile.open(fileobj=reader, mode="r|*", bufsize=STREAM_READ) as archive:
            yield archive, reader
    except tarfile.TarError as e:
        raise MlxError(f"{store.uri(key)} is not a readable tar archive: {e}") from e
    finally:
        body.close()  # without draining: stopping early must not read the rest


def member_path(member: tarfile.TarInfo) -> str:
    """The member's name as a neutral path (``./model/x`` -> ``model/x``)."""
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return name


def unsafe(member: tarfile.TarInfo) -> Optional[str]:
    """Why extracting ``member`` could write outside the destination, or None."""
    name = member.name
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "a path with `..`"
    if member.isfile() and not member_path(member).strip("/"):
        return "a file without a name"
    if member.issym() or member.islnk():
        base = posixpath.dirname(member_path(member)) if member.issym() else ""
        target = posixpath.normpath(posixpath.join(base, member.linkname))
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            return f"a link to {member.linkname!r}, outside the destination"
    return None


def list_members(store: ObjectStore, key: str) -> list[Artifact]:
    """The archive's files (one full read: a tar has no index)."""
    found = []
    with open_stream(store, key) as (archive, _):
        for member in archive:
            if member.isfile():
                found.append(Artifact(member_path(member), member.size, modified=member.mtime))
    return found


def extract(
    store: ObjectStore,
    key: str,
    include: list[str],
    exclude: list[str],
    dest: Path,
    on_read: Optional[Callable[[int], None]] = None,
) -> tuple[list[str], int]:
    """Write the selected members under ``dest``; (paths written, archive bytes read)."""
    exact = None  # the members named exactly; None when a glob may match more
    if include and not _GLOB.search("".join(include)):
        exact = {p.strip("/") for p in include}
    written: list[str] = []
    with open_stream(store, key, on_read) as (archive, reader):
        for member in archive:
            path = member_path(member)
            if not transfer.wanted(path, include, exclude) or member.isdir():
                continue
            reason = unsafe(member)
            if reason:
                raise MlxError(
                    f"refusing archive member {member.name!r}: {reason}",
                    hint=f"The archive is unsafe; nothing was written outside {dest}.",
                )
            if member.isfile():
                _write(archive.extractfile(member), transfer.safe_target(dest, path))
                written.append(path)
            else:
                _skip(member)
            if exact is not None:
                exact.discard(path)
                if not exact:
                    break  # every exactly named member is out: stop reading
        return written, reader.count


_KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
}


def _skip(member: tarfile.TarInfo) -> None:
    """Say why a member that is not a regular file is not written. Links are never created
    (so no later member can be written through one, and chains of links cannot lead out of
    --dest), nor devices or FIFOs."""
    from mlx.console import warn

    kind = _KINDS.get(member.type, "not a regular file")
    warn(f"skipped archive member {member.name!r}: {kind}; only regular files are written")


def _write(source: Optional[IO[bytes]], target: Path) -> None:
    """Atomically: a part file renamed into place."""
    assert source is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    part = transfer.part_path(target)
    try:
        with open(part, "wb") as f:
            while chunk := source.read(CHUNK):
                f.write(chunk)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
