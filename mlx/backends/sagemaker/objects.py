"""One S3 bucket as an ``mlx.cloud.objects.ObjectStore``, through a boto3 S3 client.

Checksums are ETags: the MD5 of a single-part upload, ``<md5 of part md5s>-<parts>`` for
a multipart one, and no digest at all for SSE-KMS and SSE-C objects. Downloads stream in
1 MiB chunks and resume with a ranged GET (``If-Match`` the ETag, so a changed object is
not spliced) when a connection drops mid-file; botocore checks an object's own CRC
(flexible checksums) where it has one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Optional

from mlx.backends.sagemaker.clients import as_mlx_error, aws_errors, is_not_found
from mlx.cloud.objects import ObjectInfo, file_digest
from mlx.errors import BackendError
from mlx.model import Progress

CHUNK = 1 << 20
_UPLOAD_HINT = (
    "Check that `sagemaker.bucket` exists in the job's region and that you may write to it."
)
ATTEMPTS = 3  # reads of one download: the first and two resumptions
_COMMON_PART_SIZES = (8 << 20, 5 << 20, 16 << 20, 64 << 20)  # boto3, aws cli, others


class S3Store:
    """Objects in ``bucket`` through ``s3``, a boto3 S3 client (its retries apply)."""

    # One file at a time: boto3's upload_file already spreads a large file over threads.
    parallel = 1

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with aws_errors(f"checking {self.uri(key)}"):
            try:
                self.s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError as e:
                if is_not_found(e):
                    return False
                raise
        return True

    def put_file(self, key: str, path: Path, progress: Optional[Progress] = None) -> None:
        from boto3.exceptions import S3UploadFailedError

        what = f"uploading {path} to {self.uri(key)}"
        with aws_errors(what):
            try:
                # Callback: "called periodically during the upload" with the bytes sent
                # (boto3 S3.Client.upload_file; s3transfer counts each part as it goes).
                self.s3.upload_file(str(path), self.bucket, key, Callback=progress)
            except S3UploadFailedError as e:  # boto3's transfer manager: no ClientError
                raise BackendError(f"{what} failed: {e}", hint=_UPLOAD_HINT) from e

    def put_bytes(self, key: str, data: bytes) -> None:
        with aws_errors(f"uploading {self.uri(key)}"):
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get_bytes(self, key: str) -> Optional[bytes]:
        from botocore.exceptions import ClientError

        with aws_errors(f"reading {self.uri(key)}"):
            try:
                return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            except ClientError as e:
                if is_not_found(e):
                    return None
                raise

    def list(self, prefix: str, *, label: Optional[str] = None) -> Iterator[ObjectInfo]:
        paginator = self.s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=prefix)
        with aws_errors(f"listing {label or self.uri(prefix)}"):
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        item["Key"],
                        int(item["Size"]),
                        checksum=item["ETag"].strip('"'),
                        modified=item["LastModified"].timestamp(),
                    )

    def read_range(
        self, key: str, offset: int, length: int, *, label: Optional[str] = None
    ) -> bytes:
        last = offset + length - 1
        with aws_errors(f"reading {label or self.uri(key)}"):
            body = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{last}")
            return bytes(body["Body"].read())

    def open(self, key: str) -> IO[bytes]:
        """The GET's body: read as it arrives, closed without draining the rest."""
        with aws_errors(f"reading {self.uri(key)}"):
            body: IO[bytes] = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        return body

    def download(
        self,
        key: str,
        target: Path,
        progress: Progress,
        checksum: Optional[str] = None,
        *,
        label: Optional[str] = None,
    ) -> bool:
        """Stream the object into ``target``, resuming where a dropped connection left off
        (at most ``ATTEMPTS`` reads). False when its ETag is no digest of its bytes."""
        from botocore.exceptions import (
            ConnectionClosedError,
            FlexibleChecksumError,
            IncompleteReadError,
            ReadTimeoutError,
            ResponseStreamingError,
        )

        what = f"downloading {label or self.uri(key)}"
        written = 0
        for attempt in range(ATTEMPTS):
            request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
            if written:
                ranged = {"IfMatch": checksum} if checksum else {}
                request.update(Range=f"bytes={written}-", **ranged)
            try:
                with aws_errors(what):
                    response = self.s3.get_object(**request)
                written = _append(response["Body"], target, written, progress)
                return etag_is_digest(response)
            except (ResponseStreamingError, IncompleteReadError, ReadTimeoutError,
                    ConnectionClosedError) as e:  # fmt: skip
                written = target.stat().st_size if target.exists() else 0
                if attempt == ATTEMPTS - 1:
                    raise as_mlx_error(e, what) from e
            except FlexibleChecksumError as e:  # botocore checked the object's own CRC
                raise BackendError(
                    f"checksum mismatch for {self.uri(key)}: {e}; nothing was written",
                    hint="Run pull-artifacts again; a file the job is still writing can change.",
                ) from e
        raise AssertionError("unreachable")

    def local_checksum(self, path: Path, checksum: str) -> Optional[str]:
        return local_etag(path, checksum)


def _append(body: Any, target: Path, written: int, progress: Progress) -> int:
    """Write ``body`` to ``target`` after its first ``written`` bytes; the new size."""
    with open(target, "ab" if written else "wb") as f:
        for chunk in body.iter_chunks(CHUNK):
            f.write(chunk)
            written += len(chunk)
            progress(len(chunk))
    return written


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
