"""Uploads before a job starts: local inputs (once, by content), the code dir, the
bootstrap zipapp and the job's runtime.json, all reached by the job under ``/gcs/``.

A content-addressed input is complete when its marker object
(``mlx/inputs/<sha256>.complete``, written after the last file, outside the input's own
prefix so the job never sees it) exists: the next job with the same data uploads nothing.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlx.backends.common import local_files
from mlx.backends.vertex.clients import gcp_errors
from mlx.backends.vertex.layout import split_gs
from mlx.backends.vertex.render import Plan, Upload
from mlx.bootstrap_package import bootstrap_bytes

MAX_PARALLEL = 8


def stage(bucket: Any, plan: Plan, retry: Any) -> None:
    """Everything ``plan`` needs in Cloud Storage before the job is created."""
    for upload in plan.uploads:
        upload_tree(bucket, upload, retry)
    put_bytes(bucket, plan.layout.bootstrap_uri, bootstrap_bytes(), retry)
    put_bytes(bucket, plan.layout.runtime_uri, json.dumps(plan.runtime, indent=2).encode(), retry)


def upload_tree(bucket: Any, upload: Upload, retry: Any) -> bool:
    """Upload ``upload.source`` under ``upload.uri``; for a ``once`` upload, only when no
    finished copy is there. True when something was sent."""
    _, prefix = split_gs(upload.uri)
    marker = bucket.blob(prefix.rstrip("/") + ".complete")
    if upload.once:
        with gcp_errors(f"checking gs://{bucket.name}/{marker.name}"):
            if marker.exists(retry=retry):
                return False

    def send(item: tuple[str, Any]) -> None:
        name, path = item
        with gcp_errors(f"uploading {path} to gs://{bucket.name}/{prefix}{name}"):
            bucket.blob(prefix + name).upload_from_filename(str(path), retry=retry)

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        list(pool.map(send, local_files(upload.source)))
    if upload.once:
        with gcp_errors(f"uploading gs://{bucket.name}/{marker.name}"):
            marker.upload_from_string(b"", retry=retry)
    return True


def put_bytes(bucket: Any, uri: str, data: bytes, retry: Any) -> None:
    _, key = split_gs(uri)
    with gcp_errors(f"uploading {uri}"):
        bucket.blob(key).upload_from_string(data, retry=retry)


def read_bytes(bucket: Any, uri: str, retry: Any) -> bytes | None:
    """The object's bytes, or None when there is none."""
    from google.api_core.exceptions import NotFound

    _, key = split_gs(uri)
    with gcp_errors(f"reading {uri}"):
        try:
            return bucket.blob(key).download_as_bytes(retry=retry)
        except NotFound:
            return None
