"""One Azure Blob container as an ``mlx.cloud.objects.ObjectStore``, through an
azure-storage-blob ``ContainerClient`` (``clients.container_client``: its retry policy);
a file of one part is fetched by a plain GET where the credential allows (``blob_get``).

Checksums are Content-MD5 in hex. Blobs uploaded in blocks without one (large files
written through a mount) have none, and are compared by size and time. Keys are named as
datastore paths (``mlx/<job>/model/x``), as Azure ML shows them.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Optional

from mlx.backends.azure.clients import azure_errors
from mlx.cloud.objects import ObjectInfo, file_digest, keep_digest, take_digest
from mlx.model import Progress


class BlobStore:
    """Blobs in ``container``, an azure-storage-blob ``ContainerClient``."""

    parallel = 8

    def __init__(self, container: Any) -> None:
        from mlx.backends.azure.blob_get import BlobGets

        self.container = container
        self.gets = BlobGets(container)

    def uri(self, key: str) -> str:
        return key

    def exists(self, key: str) -> bool:
        with azure_errors(f"checking {key}"):
            return bool(self.container.get_blob_client(key).exists())

    def put_file(self, key: str, path: Path, progress: Optional[Progress] = None) -> None:
        # progress_hook: "a callback to track the progress of a long running upload",
        # called with the bytes sent so far and the total (azure-storage-blob
        # ContainerClient.upload_blob, 12.10+): mlx's progress takes the difference. Over
        # max_single_put_size (64 MiB) the SDK sends blocks, max_concurrency at once, and
        # calls the hook from each sending thread (outside its own lock): hence ours.
        from mlx.cloud import parts

        sent = [0]
        lock = threading.Lock()

        def hook(current: int, total: Optional[int]) -> None:
            with lock:
                if progress is not None and current > sent[0]:
                    progress(current - sent[0])
                    sent[0] = current

        with azure_errors(f"uploading {path} to {key}"), open(path, "rb") as data:
            self.container.upload_blob(
                key, data, overwrite=True, progress_hook=hook, max_concurrency=parts.concurrency()
            )

    def put_bytes(self, key: str, data: bytes) -> None:
        with azure_errors(f"uploading {key}"):
            self.container.upload_blob(key, data, overwrite=True)

    def get_bytes(self, key: str) -> Optional[bytes]:
        from azure.core.exceptions import ResourceNotFoundError

        with azure_errors(f"reading {key}"):
            try:
                return bytes(self.container.download_blob(key).readall())
            except ResourceNotFoundError:
                return None

    def list(self, prefix: str, *, label: Optional[str] = None) -> Iterator[ObjectInfo]:
        """Blobs, not the directory markers of hierarchical namespace accounts."""
        with azure_errors(f"listing {label or prefix}"):
            for blob in self.container.list_blobs(name_starts_with=prefix):
                if blob.size is None:
                    continue
                modified = blob.last_modified.timestamp() if blob.last_modified else None
                checksum = md5_hex(blob.content_settings.content_md5)
                yield ObjectInfo(blob.name, blob.size, checksum, modified)

    def read_range(
        self, key: str, offset: int, length: int, *, label: Optional[str] = None
    ) -> bytes:
        with azure_errors(f"reading {label or key}"):
            stream = self.container.download_blob(key, offset=offset, length=length)
            return bytes(stream.readall())

    def open(self, key: str) -> IO[bytes]:
        """A reader over the blob, fetched in ranged GETs as it is read."""
        with azure_errors(f"reading {key}"):
            reader: IO[bytes] = self.container.download_blob(key)
        return reader

    def download(
        self,
        key: str,
        target: Path,
        progress: Progress,
        checksum: Optional[str] = None,
        *,
        label: Optional[str] = None,
        size: Optional[int] = None,
    ) -> bool:
        """Write the blob to ``target``: in parallel ranged parts when its listed ``size``
        is over one part (``mlx.cloud.parts``), else in one GET, a plain one where it can
        (``blob_get``); ``mlx.transfer`` checks the MD5, when the blob has one, before the
        rename.

        Not ``download_blob(max_concurrency=N).chunks()``: ``chunks()`` fetches its
        ranges one after another whatever ``max_concurrency`` says (azure-storage-blob
        ``StorageStreamDownloader.chunks``: "Iterate over chunks in the download stream";
        only ``readinto``/``readall`` use the threads).
        """
        from mlx.cloud import parts

        what = f"downloading {label or key}"
        if size is not None and size > parts.part_size():
            parts.download(_PartReader(self.container, key, what), size, target, progress)
            return True

        def whole() -> None:
            with azure_errors(what), open(target, "wb") as out:
                digest = self._plain(key, out, progress)
                if digest is None:  # the SDK's way: its retries, its errors
                    out.seek(0)
                    out.truncate()
                    digest = hashlib.md5()
                    for chunk in self.container.download_blob(key).chunks():
                        out.write(chunk)
                        digest.update(chunk)
                        progress(len(chunk))
            if checksum:  # for ``local_checksum``, which ``mlx.transfer`` calls only then
                keep_digest(target, digest.hexdigest())

        parts.run(whole)
        return True

    def _plain(self, key: str, out: IO[bytes], progress: Progress) -> Optional[Any]:
        """The blob through one plain GET (``blob_get``), MD5 fed as its bytes arrive (no
        second read for the check); None when the SDK must fetch it, its bytes uncounted."""
        digest, fed = hashlib.md5(), [0]

        def feed(chunk: bytes) -> None:
            digest.update(chunk)
            progress(len(chunk))
            fed[0] += len(chunk)

        if self.gets.fetch(key, out, feed):
            return digest
        if fed[0]:
            progress(-fed[0])  # the SDK's download counts them again
        return None

    def local_checksum(self, path: Path, checksum: str) -> Optional[str]:
        return local_md5(path)


class _PartReader:
    """One ranged part (``mlx.cloud.parts.ReadPart``). Parts after the first require the
    ETag the first one saw (``match_condition=IfNotModified``: If-Match), so a blob
    rewritten meanwhile fails rather than mixes; Content-MD5 is not always there to tell.
    The SDK holds a part's first GET (up to ``max_single_get_size``, 32 MiB) in memory:
    one part per connection in flight."""

    def __init__(self, container: Any, key: str, what: str) -> None:
        self.container, self.key, self.what = container, key, what

    def __call__(
        self, offset: int, length: int, version: Optional[str], opened: Any, write: Any
    ) -> None:
        from azure.core import MatchConditions

        pinned: dict[str, Any] = {}
        if version:
            pinned = {"etag": version, "match_condition": MatchConditions.IfNotModified}
        with azure_errors(self.what):
            stream = self.container.download_blob(self.key, offset=offset, length=length, **pinned)
            opened(stream.properties.etag)
            for chunk in stream.chunks():
                write(chunk)


def md5_hex(value: Optional[bytes]) -> Optional[str]:
    """Azure gives Content-MD5 as bytes (or base64 text); mlx compares hex digests."""
    if not value:
        return None
    raw = base64.b64decode(value) if isinstance(value, str) else bytes(value)
    return raw.hex()


def local_md5(path: Path) -> str:
    """``path``'s MD5 (hex): the one computed as a download wrote it, else read anew."""
    return take_digest(path) or file_digest(path, hashlib.md5()).hex()
