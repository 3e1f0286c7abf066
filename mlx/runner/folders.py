"""An object store kept in a local folder: a rehearsal's stand-in for a bucket.

``<root>/<scheme>/<bucket>/<key>``: what a rehearsed job's submit stages and what its
platform runner writes back (``s3://bucket/mlx/<job>/...``) are plain files there, at the
same keys the cloud would hold, so ``pull-artifacts`` reads them at the cloud's layout.
Checksums are MD5 hex digests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Optional

from mlx.cloud.objects import ObjectInfo, file_digest
from mlx.errors import BackendError
from mlx.model import Progress


class FolderStore:
    parallel = 4

    def __init__(self, root: Path, scheme: str, bucket: str) -> None:
        self.scheme = scheme
        self.bucket = bucket
        self.folder = root / scheme / bucket

    def uri(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def path(self, key: str) -> Path:
        """The file behind ``key``; a key that would leave the bucket's folder is refused."""
        path = (self.folder / key).resolve()
        if not path.is_relative_to(self.folder.resolve()):
            raise BackendError(f"object key {key!r} leaves {self.uri('')}")
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def put_file(self, key: str, path: Path, progress: Optional[Progress] = None) -> None:
        with open(path, "rb") as f:
            self._write(key, f)
        if progress is not None:
            progress(path.stat().st_size)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._target(key)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def _target(self, key: str) -> Path:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _write(self, key: str, source: IO[bytes]) -> None:
        target = self._target(key)
        tmp = target.with_name(target.name + ".part")
        with open(tmp, "wb") as out:
            shutil.copyfileobj(source, out)
        os.replace(tmp, target)

    def get_bytes(self, key: str) -> Optional[bytes]:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def list(self, prefix: str, *, label: Optional[str] = None) -> Iterator[ObjectInfo]:
        if not self.folder.is_dir():
            return
        found = []
        for path in self.folder.rglob("*"):
            key = path.relative_to(self.folder).as_posix()
            if path.is_file() and key.startswith(prefix) and not key.endswith(".part"):
                found.append(key)
        for key in sorted(found):
            path = self.folder / key
            stat = path.stat()
            checksum = file_digest(path, hashlib.md5()).hex()
            yield ObjectInfo(key, stat.st_size, checksum, stat.st_mtime)

    def read_range(
        self, key: str, offset: int, length: int, *, label: Optional[str] = None
    ) -> bytes:
        with open(self.path(key), "rb") as f:
            f.seek(offset)
            return f.read(length)

    def open(self, key: str) -> IO[bytes]:
        try:
            return open(self.path(key), "rb")
        except FileNotFoundError as e:
            raise BackendError(f"no object {self.uri(key)}") from e

    def download(
        self,
        key: str,
        target: Path,
        progress: Progress,
        checksum: Optional[str] = None,
        *,
        label: Optional[str] = None,
    ) -> bool:
        with self.open(key) as source, open(target, "wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
                progress(len(chunk))
        return True

    def local_checksum(self, path: Path, checksum: str) -> Optional[str]:
        return file_digest(path, hashlib.md5()).hex()
