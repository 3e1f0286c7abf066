"""One Cloud Storage bucket as an ``mlx.cloud.objects.ObjectStore``, through
google-cloud-storage with a retry from ``clients.Backoff.storage_retry``.

Checksums are crc32c, base64 as the API gives it: every object has one (composite objects
have no MD5). A large object is fetched in parallel ranged parts (``mlx.cloud.parts``), a
small one in one GET; ``mlx.transfer`` checks each against its crc32c.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Optional

from mlx.backends.vertex.clients import gcp_errors
from mlx.cloud.objects import ObjectInfo
from mlx.model import Progress

CHUNK = 8 << 20


class GcsStore:
    """Objects in ``bucket`` (a ``google.cloud.storage.Bucket``), each call with ``retry``."""

    parallel = 8

    def __init__(self, bucket: Any, retry: Any) -> None:
        self.bucket = bucket
        self.retry = retry

    def uri(self, key: str) -> str:
        return f"gs://{self.bucket.name}/{key}"

    def exists(self, key: str) -> bool:
        with gcp_errors(f"checking {self.uri(key)}"):
            return bool(self.bucket.blob(key).exists(retry=self.retry))

    def put_file(self, key: str, path: Path, progress: Optional[Progress] = None) -> None:
        with gcp_errors(f"uploading {path} to {self.uri(key)}"):
            if progress is None:
                self.bucket.blob(key).upload_from_filename(str(path), retry=self.retry)
                return
            # google-cloud-storage takes no progress callback: the bytes it reads are the
            # progress (Blob.upload_from_file reads the stream in chunks of chunk_size).
            from mlx.progress import CountingReader

            with open(path, "rb") as f:
                self.bucket.blob(key).upload_from_file(
                    CountingReader(f, progress), size=path.stat().st_size, retry=self.retry
                )

    def put_bytes(self, key: str, data: bytes) -> None:
        with gcp_errors(f"uploading {self.uri(key)}"):
            self.bucket.blob(key).upload_from_string(data, retry=self.retry)

    def get_bytes(self, key: str) -> Optional[bytes]:
        from google.api_core.exceptions import NotFound

        with gcp_errors(f"reading {self.uri(key)}"):
            try:
                return bytes(self.bucket.blob(key).download_as_bytes(retry=self.retry))
            except NotFound:
                return None

    def list(self, prefix: str, *, label: Optional[str] = None) -> Iterator[ObjectInfo]:
        with gcp_errors(f"listing {label or self.uri(prefix)}"):
            client = self.bucket.client
            for blob in client.list_blobs(self.bucket, prefix=prefix, retry=self.retry):
                modified = blob.updated.timestamp() if blob.updated else None
                yield ObjectInfo(blob.name, int(blob.size or 0), blob.crc32c or None, modified)

    def read_range(
        self, key: str, offset: int, length: int, *, label: Optional[str] = None
    ) -> bytes:
        with gcp_errors(f"reading {label or self.uri(key)}"):
            blob = self.bucket.blob(key)
            end = offset + length - 1  # inclusive, as the API's Range header
            return bytes(blob.download_as_bytes(start=offset, end=end, retry=self.retry))

    def open(self, key: str) -> IO[bytes]:
        """A reader fetching ``CHUNK`` bytes per ranged GET."""
        with gcp_errors(f"reading {self.uri(key)}"):
            return self._reader(key)

    def _reader(self, key: str) -> IO[bytes]:
        reader: IO[bytes] = self.bucket.blob(key).open("rb", chunk_size=CHUNK, retry=self.retry)
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
        """Write the object to ``target``: in parallel ranged parts when its listed ``size``
        is over one part (``mlx.cloud.parts``), else in one GET (``mlx.transfer`` checks
        the crc32c of the whole before renaming it into place).

        Stored bytes are fetched as stored (``raw_download``): Cloud Storage ignores a
        Range header when it decompresses a gzip-encoded object on the fly ("Transcoding
        and range requests": https://cloud.google.com/storage/docs/transcoding), and its
        listed crc32c is of the stored bytes. The SDK retries a cut read from the byte it
        reached (google-resumable-media ``Download``: "Retried requests are range
        requests").
        """
        from mlx.cloud import parts

        what = f"downloading {label or self.uri(key)}"
        if size is not None and size > parts.part_size():
            parts.download(_PartReader(self, key, what), size, target, progress)
            return True

        def whole() -> None:
            with gcp_errors(what), open(target, "wb") as out:
                counted = _Counted(out, progress)
                self.bucket.blob(key).download_to_file(
                    counted, raw_download=True, checksum=None, retry=self.retry
                )
                counted.flush()

        parts.run(whole)
        return True

    def local_checksum(self, path: Path, checksum: str) -> Optional[str]:
        return file_crc32c(path)


class _PartReader:
    """One ranged part (``mlx.cloud.parts.ReadPart``). Cloud Storage's answer headers are
    not seen before its body here, so parts start at once, unpinned: the whole file's
    crc32c, checked before the rename, refuses parts of two generations."""

    def __init__(self, store: GcsStore, key: str, what: str) -> None:
        self.store, self.key, self.what = store, key, what

    def __call__(
        self, offset: int, length: int, version: Optional[str], opened: Any, write: Any
    ) -> None:
        opened(None)
        with gcp_errors(self.what):
            self.store.bucket.blob(self.key).download_to_file(
                _Sink(write),
                start=offset,
                end=offset + length - 1,  # inclusive, as the Range header
                raw_download=True,
                checksum=None,
                retry=self.store.retry,
            )


class _Sink:
    """A file object whose writes go to ``write``."""

    def __init__(self, write: Any) -> None:
        self.write = write


class _Counted:
    """``out`` reporting the bytes written to it, 256 KiB at a time (the SDK writes 8 KiB)."""

    def __init__(self, out: IO[bytes], progress: Progress) -> None:
        self.out, self.progress, self.unreported = out, progress, 0

    def write(self, data: bytes) -> int:
        written = self.out.write(data)
        self.unreported += len(data)
        if self.unreported >= 256 << 10:
            self.progress(self.unreported)
            self.unreported = 0
        return written

    def flush(self) -> None:
        if self.unreported:
            self.progress(self.unreported)
            self.unreported = 0


def file_crc32c(path: Path) -> str:
    """A local file's crc32c in the form Cloud Storage lists it."""
    import google_crc32c

    crc = google_crc32c.Checksum()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            crc.update(chunk)
    return base64.b64encode(crc.digest()).decode()
