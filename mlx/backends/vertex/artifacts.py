"""Artifacts: the objects under a job's prefix, listed and fetched one file at a time.

``mlx.transfer.pull`` selects, skips files already current (same size and crc32c), runs
downloads in parallel, shows progress and renames each file into place; this module lists
and writes one object to a path. Reads are ranged (``Blob.open``), so a file can be fetched
while the job is still writing others; ``mlx.transfer`` checks each against its crc32c.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Optional

from mlx.backends.vertex.layout import STAGING
from mlx.model import Artifact, Progress

CHUNK = 8 << 20


def list_under(bucket: Any, prefix: str, retry: Any) -> list[Artifact]:
    """Every object under ``prefix`` but mlx's own ``mlx/`` files, relative to it."""
    found = []
    for blob in bucket.client.list_blobs(bucket, prefix=prefix, retry=retry):
        path = blob.name[len(prefix) :]
        if not path or path.endswith("/") or path.split("/", 1)[0] == STAGING:
            continue
        modified = blob.updated.timestamp() if blob.updated else None
        found.append(Artifact(path, int(blob.size or 0), checksum(blob), modified))
    return found


def checksum(blob: Any) -> Optional[str]:
    """The object's crc32c, base64 as the API gives it (every object has one; composite
    objects have no MD5)."""
    return blob.crc32c or None


def file_checksum(path: Path) -> str:
    """A local file's checksum in the form of ``checksum``."""
    import google_crc32c

    crc = google_crc32c.Checksum()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            crc.update(chunk)
    return base64.b64encode(crc.digest()).decode()


def download(
    bucket: Any, key: str, artifact: Artifact, target: Path, progress: Progress, retry: Any
) -> None:
    """Write object ``key`` to ``target`` in ranged chunks (``mlx.transfer`` checks the
    crc32c before renaming it into place)."""
    with (
        bucket.blob(key).open("rb", chunk_size=CHUNK, retry=retry) as reader,
        open(target, "wb") as out,
    ):
        while chunk := reader.read(CHUNK):
            out.write(chunk)
            progress(len(chunk))
