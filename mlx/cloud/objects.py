"""The object-store protocol, and what mlx does with any store: upload once by content,
list a job's files.

A store is one bucket (S3, Cloud Storage) or container (Azure Blob). Each cloud has one
adapter, in its provider package (``mlx.backends.sagemaker.objects.S3Store``,
``...vertex.objects.GcsStore``, ``...azure.objects.BlobStore``); each keeps its SDK's
retries, turns its SDK's errors into mlx errors naming the call, and lists checksums in
its provider's own form (an S3 ETag, a GCS crc32c, a Blob Content-MD5), which its
``local_checksum`` computes for a local file.

A local input is staged under a prefix named by its content (``tree_digest``). A marker
object written after the last file (``<prefix>.complete``: beside the prefix, never in it,
so the job never sees it) says the upload finished: the next job with the same data sends
nothing, and an upload cut short is done again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Optional, Protocol

from mlx.model import Artifact, Progress

MARKER_SUFFIX = ".complete"
CHUNK = 1 << 20


@dataclass(frozen=True)
class ObjectInfo:
    """One object as a listing gives it."""

    key: str
    size: int
    checksum: Optional[str] = None  # in the provider's form; see ObjectStore.local_checksum
    modified: Optional[float] = None  # seconds since the epoch


class ObjectStore(Protocol):
    """One bucket or container. Keys are object names, without a leading slash.

    Every method raises ``mlx.errors.MlxError`` (``BackendError``, ``BackendUnavailable``)
    naming the call and the object, never an SDK exception.
    """

    parallel: int  # files ``upload_tree`` sends at once

    def uri(self, key: str) -> str:
        """How messages name ``key`` (``s3://bucket/key``)."""
        ...

    def exists(self, key: str) -> bool: ...

    def put_file(self, key: str, path: Path, progress: Optional[Progress] = None) -> None:
        """Upload ``path``, calling ``progress`` with the bytes sent as they go."""
        ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> Optional[bytes]:
        """The object's bytes; None when there is no such object."""
        ...

    def list(self, prefix: str, *, label: Optional[str] = None) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order (an error names
        ``label``, default ``uri(prefix)``)."""
        ...

    def read_range(
        self, key: str, offset: int, length: int, *, label: Optional[str] = None
    ) -> bytes:
        """``length`` bytes of the object from ``offset`` (one ranged GET): what a growing
        object (a log) gained since the last read."""
        ...

    def open(self, key: str) -> IO[bytes]:
        """A stream over the object's bytes, read in ranges where the SDK allows it."""
        ...

    def download(
        self,
        key: str,
        target: Path,
        progress: Progress,
        checksum: Optional[str] = None,
        *,
        label: Optional[str] = None,
    ) -> bool:
        """Write the object to ``target``, calling ``progress`` with each chunk's size.

        Args:
            checksum: the object's listed checksum, where the store uses it to resume a
                cut read of the same version.
            label: how an error names the object (default ``uri(key)``).

        Returns:
            False when the listed checksum is no digest of the bytes (an S3 ETag of an
            encrypted object), so the download cannot be verified against it.
        """
        ...

    def local_checksum(self, path: Path, checksum: str) -> Optional[str]:
        """``path``'s checksum in the form of ``checksum``; None when not computable."""
        ...


# -- content digests -------------------------------------------------------------------


def local_files(source: Path, *, code: bool = False) -> Iterator[tuple[str, Path]]:
    """(relative name, path) of every file of ``source``; a file is its own one entry.

    ``code``: ``source`` is a ``code`` folder, whose ``.mlxignore`` and default skips
    (``.git``, virtual environments, caches: ``mlx.codetree``) apply; an input folder is
    data, sent whole."""
    from mlx.codetree import code_files, plain_files

    if source.is_file():
        yield source.name, source
        return
    yield from code_files(source) if code else plain_files(source)


# Checksums computed while a file was downloaded (``keep_digest``), for the store's
# ``local_checksum`` to take instead of reading the file again. Keyed by the part file's
# path: unique to one process and thread (``mlx.transfer.part_path``).
_downloaded: dict[Path, str] = {}


def keep_digest(path: Path, value: str) -> None:
    """Remember ``path``'s checksum, computed as its bytes were written."""
    _downloaded[path] = value


def take_digest(path: Path) -> Optional[str]:
    """The checksum kept for ``path`` (forgotten once taken), or None."""
    return _downloaded.pop(path, None)


def file_digest(path: Path, hasher: Any) -> bytes:
    """``hasher`` fed with ``path``'s bytes, 1 MiB at a time; its digest."""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
    return hasher.digest()


def tree_digest(source: Path, *, code: bool = False) -> str:
    """SHA-256 (hex) over the relative names and contents of the files an upload of
    ``source`` sends (``local_files``): a left-out file changing uploads nothing again."""
    digest = hashlib.sha256()
    for name, path in local_files(source, code=code):
        digest.update(name.encode() + b"\0" + file_digest(path, hashlib.sha256()) + b"\n")
    return digest.hexdigest()


# -- uploads ---------------------------------------------------------------------------


def marker_key(prefix: str) -> str:
    """The marker of a finished upload under ``prefix``: beside it, not in it."""
    return prefix.rstrip("/") + MARKER_SUFFIX


def upload_tree(
    store: ObjectStore,
    source: Path,
    prefix: str,
    *,
    code: bool = False,
    progress: Optional[Progress] = None,
) -> None:
    """Upload ``source`` (a file or a directory; ``code``: see ``local_files``) under
    ``prefix``, ``store.parallel`` files at a time (``progress``: the bytes sent)."""

    def send(item: tuple[str, Path]) -> None:
        name, path = item
        if progress is None:  # a store of a third party may not take it
            store.put_file(prefix + name, path)
        else:
            store.put_file(prefix + name, path, progress)

    files = local_files(source, code=code)
    if store.parallel <= 1:
        for item in files:
            send(item)
        return
    with ThreadPoolExecutor(max_workers=store.parallel) as pool:
        list(pool.map(send, files))


def upload_once(store: ObjectStore, source: Path, prefix: str, *, code: bool = False) -> bool:
    """Upload ``source`` under its content-addressed ``prefix`` unless a finished copy is
    there; True when something was sent. The marker goes last: a cut upload is redone."""
    marker = marker_key(prefix)
    if store.exists(marker):
        return False
    upload_tree(store, source, prefix, code=code)
    store.put_bytes(marker, b"")
    return True


# -- listing ---------------------------------------------------------------------------

Mapper = Callable[[str], Optional[str]]


def list_under(store: ObjectStore, prefix: str, mapper: Optional[Mapper] = None) -> list[Artifact]:
    """The objects under ``prefix`` as artifacts, sorted by path.

    Args:
        mapper: an object's key -> its artifact path; None leaves the object out. The
            default is the key relative to ``prefix``.
    """
    found = []
    for info in store.list(prefix):
        path = mapper(info.key) if mapper else info.key[len(prefix) :]
        if not path or info.key.endswith("/"):  # folder markers are no files
            continue
        found.append(Artifact(path, info.size, info.checksum, info.modified))
    return sorted(found, key=lambda a: a.path)
