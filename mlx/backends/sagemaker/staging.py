"""Uploads before a job starts: local inputs and code (once, by content) and mlx's files.

A local file or directory is staged under ``s3://<bucket>/<prefix>/inputs/<sha256>/``, the
SHA-256 of its relative paths and contents. A marker object written after the last file
(``inputs/<sha256>.complete``, outside the channel's prefix so the job never sees it) says
the upload finished: the next job with the same data uploads nothing.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlx.backends.common import local_files
from mlx.backends.sagemaker.clients import aws_errors, is_not_found
from mlx.backends.sagemaker.layout import split_s3

# Started by the SageMaker training toolkit (sagemaker_program) in tuning-job trials, whose
# API has no ContainerEntrypoint: it runs the bootstrap from the `mlx` channel, which takes
# the command from runtime.json and the trial's values from hyperparameters.json. The
# arguments the toolkit appends are those same hyperparameters: ignored.
TOOLKIT_ENTRY = "mlx_entry.py"
_TOOLKIT_ENTRY_SOURCE = b'''"""mlx: run the job's command through the mlx bootstrap."""
import sys

sys.path.insert(0, "{bootstrap}")
from mlx.runtime.bootstrap import main  # noqa: E402

sys.exit(main(["--config", "{runtime}"]))
'''


@dataclass(frozen=True)
class Upload:
    """A local file or directory and the content-addressed prefix it is staged under."""

    source: Path
    uri: str  # s3://bucket/prefix/inputs/<sha256>/

    @property
    def marker(self) -> tuple[str, str]:
        bucket, key = split_s3(self.uri)
        return bucket, key.rstrip("/") + ".complete"


def upload_once(s3: Any, upload: Upload) -> bool:
    """Stage ``upload`` unless a finished copy is there; True when something was sent."""
    bucket, marker = upload.marker
    if _exists(s3, bucket, marker):
        return False
    _, prefix = split_s3(upload.uri)
    for name, path in local_files(upload.source):
        with aws_errors(f"uploading {path} to s3://{bucket}/{prefix}{name}"):
            s3.upload_file(str(path), bucket, prefix + name)
    put_bytes(s3, f"s3://{bucket}/{marker}", b"")
    return True


def put_bytes(s3: Any, uri: str, data: bytes) -> None:
    bucket, key = split_s3(uri)
    with aws_errors(f"uploading {uri}"):
        s3.put_object(Bucket=bucket, Key=key, Body=data)


def put_json(s3: Any, uri: str, data: Any) -> None:
    put_bytes(s3, uri, json.dumps(data, indent=2).encode())


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    with aws_errors(f"checking s3://{bucket}/{key}"):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError as e:
            if is_not_found(e):
                return False
            raise
    return True


def toolkit_archive(bootstrap_path: str, runtime_path: str) -> bytes:
    """``sourcedir.tar.gz`` for ``sagemaker_submit_directory``: only the entry script."""
    source = _TOOLKIT_ENTRY_SOURCE.replace(b"{bootstrap}", bootstrap_path.encode())
    source = source.replace(b"{runtime}", runtime_path.encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(TOOLKIT_ENTRY)
        info.size, info.mode = len(source), 0o644
        archive.addfile(info, io.BytesIO(source))
    return buffer.getvalue()
