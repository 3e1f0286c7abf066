"""Members of a ``model.tar.gz`` mlx did not write, read straight from S3.

The archive is streamed: nothing is downloaded whole and memory is bounded. A tar has no
index and no checksum of its members, so the only proof that what was extracted is what
was archived is the gzip trailer (CRC-32 and length of everything before it, RFC 1952
section 2.3.1): mlx decompresses with zlib, which checks it, reads every archive to its end,
and renames the extracted members into place only then; a corrupt or cut archive leaves
nothing behind. (mlx's own jobs are never archived: their files are pulled one by one.)

Members are written through ``transfer.safe_target`` into ``--dest`` only: an absolute
path, a ``..`` or a link that leaves ``--dest`` is refused, and links are never created.
An archive that expands beyond ``BOMB_RATIO`` times its size is refused as a bomb.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Optional

from mlx import transfer
from mlx.errors import BackendError, MlxError
from mlx.model import Artifact

if TYPE_CHECKING:
    from mlx.cloud.objects import ObjectStore

CHUNK = 1 << 20
STREAM_READ = 32 << 10
GZIP_MAGIC = b"\x1f\x8b"
# Model weights barely compress; an archive that expands past this many times its size
# (after BOMB_FLOOR bytes) is a decompression bomb, not a model.
BOMB_RATIO = 200
BOMB_FLOOR = 64 << 20


class CountingReader(io.RawIOBase):
    """A read-only stream over a store's object stream that counts the bytes it reads; a
    transport error while reading (a reset, a cut body, a checksum botocore checked)
    becomes one ``BackendError`` naming the object."""

    def __init__(
        self, body: Any, uri: str, on_read: Optional[Callable[[int], None]] = None
    ) -> None:
        self.body, self.uri, self.count, self.on_read = body, uri, 0, on_read
        self.ahead = b""  # read by ``peek``, handed out first

    def readable(self) -> bool:
        return True

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end), still to be read."""
        while len(self.ahead) < size:
            data = self._read(size - len(self.ahead))
            if not data:
                break
            self.ahead += data
        return self.ahead[:size]

    def readinto(self, buffer: Any) -> int:
        if self.ahead:
            n = min(len(buffer), len(self.ahead))
            buffer[:n], self.ahead = self.ahead[:n], self.ahead[n:]
            return n
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        try:
            data: bytes = self.body.read(size)
        except MlxError:
            raise
        except Exception as e:  # botocore's and urllib3's transport errors
            raise BackendError(
                f"reading {self.uri} failed: {e}; nothing was written",
                hint="Run pull-artifacts again.",
            ) from e
        self.count += len(data)
        if self.on_read and data:
            self.on_read(len(data))
        return data


class GunzipReader(io.RawIOBase):
    """The decompressed bytes of a gzip stream; zlib checks the trailer's CRC-32 and
    length when the stream ends (a mismatch is ``zlib.error``), ``verify_end`` that it did."""

    def __init__(self, raw: CountingReader) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
        self.pending = b""
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending and not self.inflate.eof:
            chunk = self.raw.read(STREAM_READ)
            if not chunk:
                break
            self.pending = self.inflate.decompress(chunk)
            self.produced += len(self.pending)
            if self.produced > BOMB_FLOOR and self.produced > BOMB_RATIO * self.raw.count:
                raise MlxError(
                    f"{self.raw.uri} expands to more than {BOMB_RATIO} times its size: "
                    "refusing it as a decompression bomb; nothing was written"
                )
        n = min(len(buffer), len(self.pending))
        buffer[:n], self.pending = self.pending[:n], self.pending[n:]
        return n

    def verify_end(self) -> None:
        """Read what is left of the stream; the archive must end where gzip says it does."""
        while self.read(CHUNK):
            pass
        if not self.inflate.eof:
            raise zlib.error("the archive ends before its gzip trailer")


@contextmanager
def open_stream(
    store: ObjectStore, key: str, on_read: Optional[Callable[[int], None]] = None
) -> Iterator[tuple[tarfile.TarFile, Callable[[], None], CountingReader]]:
    """The archive as a tar stream, a function that reads it to its end and verifies it,
    and the counter of compressed bytes read."""
    uri = store.uri(key)
    body = store.open(key)
    raw = CountingReader(body, uri, on_read)
    try:
        source: Any = raw
        finish: Callable[[], None] = lambda: _drain(raw)  # noqa: E731
        if raw.peek(2) == GZIP_MAGIC:
            source = GunzipReader(raw)
            finish = source.verify_end
        # A plain tar (or a compression zlib does not check) is read to its end too: an
        # S3 checksum of the whole object is then checked by botocore.
        with tarfile.open(fileobj=source, mode="r|*", bufsize=STREAM_READ) as archive:
            yield archive, finish, raw
    except tarfile.TarError as e:
        raise MlxError(f"{uri} is not a readable tar archive: {e}; nothing was written") from e
    except (zlib.error, EOFError) as e:
        raise MlxError(
            f"{uri} is corrupt or cut short ({e}); nothing was written",
            hint="Its gzip checksum or length does not match its content.",
        ) from e
    finally:
        body.close()


def _drain(stream: Any) -> None:
    while stream.read(CHUNK):
        pass


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
    """The archive's files (one full read: a tar has no index), verified to the end."""
    found: dict[str, Artifact] = {}
    with open_stream(store, key) as (archive, finish, _):
        for member in archive:
            if member.isfile():  # a later member of the same name replaces an earlier one
                path = member_path(member)
                found[path] = Artifact(path, member.size, modified=member.mtime)
        finish()
    return list(found.values())


def extract(
    store: ObjectStore,
    key: str,
    include: list[str],
    exclude: list[str],
    dest: Path,
    on_read: Optional[Callable[[int], None]] = None,
) -> tuple[list[str], int]:
    """Write the selected members under ``dest``; (paths written, archive bytes read).

    Members go to part files first; only once the whole archive was read and its checksum
    verified are they renamed into place. Any refusal or error removes them all.
    """
    transfer.check_dest(dest)
    parts: dict[str, tuple[Path, Path]] = {}  # path -> (part file, target)
    files: set[Path] = set()  # the targets, and the directories they need
    dirs: dict[Path, Path] = {}
    made: list[Path] = []  # the directories this pull created, parents first
    done = False
    try:
        with open_stream(store, key, on_read) as (archive, finish, raw):
            for member in archive:
                path = member_path(member)
                if not transfer.wanted(path, include, exclude) or member.isdir():
                    continue
                reason = unsafe(member)
                if reason:
                    raise MlxError(
                        f"refusing archive member {member.name!r}: {reason}",
                        hint=f"The archive is unsafe; nothing was written to {dest}.",
                    )
                if member.isfile():
                    target = transfer.safe_target(dest, path)
                    _check_conflict(target, files, dirs, dest)
                    _drop(parts.pop(path, None))  # a later member of one name wins
                    parts[path] = (_write(archive.extractfile(member), target, made), target)
                else:
                    _skip(member)
            finish()
            for part, target in parts.values():
                try:
                    os.replace(part, target)
                except OSError as e:
                    raise transfer.write_error(target, e) from e
            done = True
            return sorted(parts), raw.count
    finally:
        for entry in parts.values():
            _drop(entry)
        if not done:  # leave --dest as it was: no empty directories either
            for directory in reversed(made):
                with contextlib.suppress(OSError):
                    directory.rmdir()


def _check_conflict(target: Path, files: set[Path], dirs: dict[Path, Path], dest: Path) -> None:
    """Refuse a member that is a file where another needs a directory, or the reverse
    (``model`` then ``model/x.txt``): one of them could not be written."""
    if target in files:
        return  # the same name again: the later member replaces the earlier one
    if transfer.find_conflict(target, files, dirs):
        raise MlxError(
            f"archive members conflict at {target.relative_to(dest.resolve())}: "
            "a file and a directory of another member; nothing was written",
            hint=transfer.CONFLICT_HINT,
        )


def _drop(entry: Optional[tuple[Path, Path]]) -> None:
    if entry is not None:
        entry[0].unlink(missing_ok=True)


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


def _write(source: Optional[IO[bytes]], target: Path, created: list[Path]) -> Path:
    """The member's bytes in a part file beside ``target``; renamed later (``extract``).
    Directories it makes are added to ``created``, to be removed if the pull fails."""
    assert source is not None
    part = transfer.part_path(target)
    try:
        missing = [p for p in reversed(target.parents) if not p.exists()]
        target.parent.mkdir(parents=True, exist_ok=True)
        created.extend(missing)
        with open(part, "wb") as f:
            while chunk := source.read(CHUNK):
                f.write(chunk)
    except OSError as e:
        part.unlink(missing_ok=True)
        raise transfer.write_error(target, e) from e
    except BaseException:  # the archive failed mid-member (corrupt, cut, a bomb)
        part.unlink(missing_ok=True)
        raise
    return part
