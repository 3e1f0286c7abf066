"""A job's files under ``s3://<bucket>/<prefix>/<job>/``, by the names every provider uses.

SageMaker's keys are mapped to mlx's neutral paths (see ``layout.py``), so
``--include 'model/*'`` means the same on every provider::

    <job>/output/model/weights.pt   ->  model/weights.pt
    <job>/output/output.tar.gz      ->  output/output.tar.gz
    checkpoints/step-10.pt          ->  checkpoints/step-10.pt  (trial: checkpoints/<trial>/)
    _mlx/...                        ->  (mlx's staging: not listed)

Files can be listed and pulled while the job runs (checkpoints are synced as written).
Downloads stream in 1 MiB chunks and resume with a ranged GET (``If-Match`` the ETag) when
a connection drops mid-file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mlx.backends.common import file_digest
from mlx.backends.sagemaker.clients import as_mlx_error, aws_errors
from mlx.backends.sagemaker.layout import STAGING
from mlx.errors import BackendError
from mlx.model import Artifact, Progress

CHUNK = 1 << 20
ATTEMPTS = 3
_COMMON_PART_SIZES = (8 << 20, 5 << 20, 16 << 20, 64 << 20)  # boto3, aws cli, others


@dataclass(frozen=True)
class ArtifactRoot:
    """One job's artifacts: keys under ``root`` in ``bucket``, written by ``job_name``."""

    bucket: str
    root: str  # "<prefix>/<job or tuning job id>/"
    job_name: str  # the SageMaker training job (a trial's, for a trial)
    trial: bool = False

    def _rules(self) -> list[tuple[str, str]]:
        checkpoints = f"checkpoints/{self.job_name}/" if self.trial else "checkpoints/"
        return [
            (f"{self.job_name}/output/model/", "model/"),
            (f"{self.job_name}/output/", "output/"),
            (checkpoints, "checkpoints/"),
        ]

    def path_of(self, key: str) -> Optional[str]:
        """The neutral path of ``key``; None for keys that are not this job's artifacts."""
        relative = key[len(self.root) :]
        for key_prefix, neutral in self._rules():
            if relative.startswith(key_prefix):
                return neutral + relative[len(key_prefix) :]
        mapped = ("model/", "output/", "checkpoints/", f"{STAGING}/")
        if self.trial or relative.startswith(mapped):
            return None  # a trial shares the prefix: only its own files are its artifacts
        return relative  # e.g. <job>/profiler-output/..., kept as is

    def key_of(self, path: str) -> str:
        for key_prefix, neutral in self._rules():
            if path.startswith(neutral):
                return self.root + key_prefix + path[len(neutral) :]
        return self.root + path


def list_artifacts(s3: Any, where: ArtifactRoot) -> list[Artifact]:
    found = []
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=where.root)
    with aws_errors(f"listing s3://{where.bucket}/{where.root}"):
        for page in pages:
            for item in page.get("Contents", []):
                path = where.path_of(item["Key"])
                if path is None or item["Key"].endswith("/"):
                    continue
                found.append(
                    Artifact(
                        path,
                        int(item["Size"]),
                        checksum=item["ETag"].strip('"'),
                        modified=item["LastModified"].timestamp(),
                    )
                )
    return sorted(found, key=lambda a: a.path)


def download(
    s3: Any, bucket: str, key: str, target: Path, progress: Progress, etag: Optional[str]
) -> bool:
    """Stream ``s3://bucket/key`` into ``target``, resuming where a dropped connection
    left off (at most ``ATTEMPTS`` reads). False when the object's ETag is no digest of
    its bytes (SSE-KMS or SSE-C encryption), so it cannot verify the download."""
    from botocore.exceptions import (
        ConnectionClosedError,
        FlexibleChecksumError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    what = f"downloading s3://{bucket}/{key}"
    written = 0
    for attempt in range(ATTEMPTS):
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if written:
            request.update(Range=f"bytes={written}-", **({"IfMatch": etag} if etag else {}))
        try:
            with aws_errors(what):
                response = s3.get_object(**request)
            with open(target, "ab" if written else "wb") as f:
                for chunk in response["Body"].iter_chunks(CHUNK):
                    f.write(chunk)
                    written += len(chunk)
                    progress(len(chunk))
            return etag_is_digest(response)
        except (ResponseStreamingError, IncompleteReadError, ReadTimeoutError,
                ConnectionClosedError) as e:  # fmt: skip
            if attempt == ATTEMPTS - 1:
                raise as_mlx_error(e, what) from e
        except FlexibleChecksumError as e:  # botocore checked the object's own CRC
            raise BackendError(
                f"checksum mismatch for s3://{bucket}/{key}: {e}; nothing was written",
                hint="Run pull-artifacts again; a file the job is still writing can change.",
            ) from e
    raise AssertionError("unreachable")


def etag_is_digest(response: dict[str, Any]) -> bool:
    """S3 ETags are MD5-based except for SSE-KMS and SSE-C objects
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html)."""
    kms = str(response.get("ServerSideEncryption", "")).startswith("aws:kms")
    return not kms and not response.get("SSECustomerAlgorithm")


def local_etag(path: Path, etag: str) -> Optional[str]:
    """``path``'s S3 ETag in the form of ``etag``: the MD5 for a single-part upload; for a
    multipart one (``<md5 of part md5s>-<parts>``) the part size is not recorded, so the
    common sizes that give that many parts are tried."""
    if "-" not in etag:
        return file_digest(path, hashlib.md5()).hex()
    count = etag.partition("-")[2]
    if not count.isdigit():
        return None
    parts = int(count)
    size = path.stat().st_size
    for part_size in _part_sizes(size, parts):
        candidate = _multipart_etag(path, part_size)
        if candidate == etag:
            return candidate
    return None


def _part_sizes(size: int, parts: int) -> list[int]:
    mib = 1 << 20
    even = -(-size // parts)  # parts of equal whole MiB: what many uploaders choose
    guesses = [*_COMMON_PART_SIZES, -(-even // mib) * mib]
    return [p for p in dict.fromkeys(guesses) if -(-size // p) == parts]


def _multipart_etag(path: Path, part_size: int) -> str:
    digests = []
    with open(path, "rb") as f:
        while chunk := f.read(part_size):
            digests.append(hashlib.md5(chunk).digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"
