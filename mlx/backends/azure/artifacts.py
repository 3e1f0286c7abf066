"""Artifacts straight from the datastore path ``mlx/<job>/`` with azure-storage-blob.

azure-ai-ml's ``jobs.download`` works only once a job has ended and fetches everything;
listing the prefix works while the job runs and lets ``pull-artifacts`` pick files by glob.
``mlx.transfer.pull`` does the rest (parallel, skip-if-same, atomic rename, progress): a
file is skipped when its size and Content-MD5 match the local copy.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any, Optional

from mlx.backends.azure.clients import azure_errors
from mlx.backends.common import file_digest
from mlx.model import Artifact, Progress


def list_artifacts(container: Any, prefix: str) -> list[Artifact]:
    """Every blob under ``prefix``, paths relative to it; checksum = Content-MD5 in hex."""
    found = []
    with azure_errors(f"listing {prefix}"):
        for blob in container.list_blobs(name_starts_with=prefix):
            if blob.name.endswith("/") or blob.size is None:
                continue  # directory markers (hierarchical namespace accounts)
            found.append(
                Artifact(
                    blob.name[len(prefix) :],
                    blob.size,
                    checksum=md5_hex(blob.content_settings.content_md5),
                    modified=blob.last_modified.timestamp() if blob.last_modified else None,
                )
            )
    return sorted(found, key=lambda a: a.path)


def md5_hex(value: Optional[bytes]) -> Optional[str]:
    """Azure gives Content-MD5 as bytes (or base64 text); mlx compares hex digests. Blobs
    uploaded in blocks without one (large files written through a mount) have none."""
    if not value:
        return None
    raw = base64.b64decode(value) if isinstance(value, str) else bytes(value)
    return raw.hex()


def local_md5(path: Path) -> str:
    return file_digest(path, hashlib.md5()).hex()


def download(
    container: Any, prefix: str, artifact: Artifact, target: Path, progress: Progress
) -> None:
    """Stream one blob to ``target`` in chunks (ranged GETs, several in parallel for big
    blobs); ``mlx.transfer`` checks the MD5, when the blob has one, before the rename."""
    with azure_errors(f"downloading {artifact.path}"), open(target, "wb") as out:
        stream = container.download_blob(prefix + artifact.path, max_concurrency=4)
        for chunk in stream.chunks():
            out.write(chunk)
            progress(len(chunk))
