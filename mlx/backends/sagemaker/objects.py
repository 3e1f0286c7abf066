"""One S3 bucket as an ``mlx.cloud.objects.ObjectStore``, through a boto3 S3 client.

Checksums are ETags: the MD5 of a single-part upload, ``<md5 of part md5s>-<parts>`` for
a multipart one, and no digest at all for SSE-KMS and SSE-C objects. Downloads stream in
1 MiB chunks — an object over one part in parallel ranged parts (``mlx.cloud.parts``), every
part ``If-Match`` the listed ETag — and resume with a ranged GET when a connection drops
mid-read; botocore checks an object's own CRC (flexible checksums) on whole-object GETs.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Optional

from mlx.backends.sagemaker.clients import as_mlx_error, aws_errors, is_not_found
from mlx.cloud.objects import ObjectInfo, file_digest, keep_digest, take_digest
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

    def __init__(self, s3: Any, bucket: str) -> None:
        from mlx.cloud import parts

        self.s3 = s3
        self.bucket = bucket
        # Files sent at once (``upload_tree``): they share one transfer manager, whose
        # requests in flight stay at ``concurrency()`` however many files go (``_manager``).
        self.parallel = parts.concurrency()

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
        from boto3.s3.transfer import ProgressCallbackInvoker
        from botocore.exceptions import ClientError

        what = f"uploading {path} to {self.uri(key)}"
        # boto3's upload_file, on one manager for all files: ProgressCallbackInvoker is how
        # upload_file hands its Callback ("called periodically during the upload" with the
        # bytes sent) to s3transfer, which counts each part as it goes.
        subscribers = [ProgressCallbackInvoker(progress)] if progress else None
        with aws_errors(what):
            try:
                upload = _manager(self.s3).upload(str(path), self.bucket, key, None, subscribers)
                upload.result()
            except (ClientError, S3UploadFailedError) as e:  # what upload_file raises
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
        size: Optional[int] = None,
    ) -> bool:
        """Fetch the object into ``target``: in parallel ranged parts when its listed
        ``size`` is over one part (``mlx.cloud.parts``), else in one GET; either way
        resuming where a dropped connection left off (at most ``ATTEMPTS`` reads of each).
        False when its ETag is no digest of its bytes."""
        from mlx.cloud import parts

        what = f"downloading {label or self.uri(key)}"
        if size is None or size <= parts.part_size():
            return parts.run(lambda: self._whole(key, target, progress, checksum, what))
        seen: list[dict[str, Any]] = []
        read = _PartReader(self, key, what, seen)
        step = upload_part_size(checksum, size)
        if step is not None and parts.MIN_PART <= step <= parts.MAX_PART:
            # Parts as the upload's: each part's MD5 is computed in its own thread as it
            # arrives, and the ETag is the MD5 of those (no second pass, several cores).
            found: list[bytes] = []
            parts.download(
                read, size, target, progress, checksum, step=step, per_part=hashlib.md5,
                part_digests=found,
            )  # fmt: skip
            joined = hashlib.md5(b"".join(found)).hexdigest()
            keep_digest(target, f"{joined}-{len(found)}")  # for local_etag, which checks next
        else:
            digest = etag_digest(checksum, size)
            parts.download(read, size, target, progress, version=checksum, digest=digest)
            if digest is not None:
                keep_digest(target, digest.hexdigest())
        return etag_is_digest(seen[0]) if seen else True

    def _whole(
        self, key: str, target: Path, progress: Progress, checksum: Optional[str], what: str
    ) -> bool:
        """One GET streamed into ``target``; a cut read resumes with a ranged GET
        (``If-Match`` the ETag, so a changed object is not spliced)."""
        written = 0
        for attempt in range(ATTEMPTS):
            request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
            if written:
                ranged = {"IfMatch": checksum} if checksum else {}
                request.update(Range=f"bytes={written}-", **ranged)
            try:
                with _streaming_errors(self.uri(key)):
                    with aws_errors(what):
                        response = self.s3.get_object(**request)
                    written = _append(response["Body"], target, written, progress)
                return etag_is_digest(response)
            except _Transient as e:
                written = target.stat().st_size if target.exists() else 0
                if attempt == ATTEMPTS - 1:
                    raise as_mlx_error(e.cause, what) from e.cause
        raise AssertionError("unreachable")

    def local_checksum(self, path: Path, checksum: str) -> Optional[str]:
        return local_etag(path, checksum)


_managers: dict[int, tuple[Any, Any]] = {}
_managers_lock = threading.Lock()


def _manager(s3: Any) -> Any:
    """The s3transfer manager of client ``s3`` (boto3 ``create_transfer_manager``, what
    ``upload_file`` makes for each call): ``concurrency()`` requests at once, parts of
    ``part_size()`` (boto3's defaults: 10 and 8 MiB)."""
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    from mlx.cloud import parts

    with _managers_lock:
        found = _managers.get(id(s3))
        if found is None or found[0] is not s3:
            config = TransferConfig(
                max_concurrency=parts.concurrency(), multipart_chunksize=parts.part_size()
            )
            found = (s3, create_transfer_manager(s3, config))
            _managers[id(s3)] = found
        return found[1]


class _PartReader:
    """One ranged part of an object (``mlx.cloud.parts.ReadPart``): a GET of its range
    (``If-Match`` the version, when known), resumed where a dropped connection left off."""

    def __init__(self, store: S3Store, key: str, what: str, seen: list[dict[str, Any]]) -> None:
        self.store, self.key, self.what, self.seen = store, key, what, seen

    def __call__(
        self, offset: int, length: int, version: Optional[str], opened: Any, write: Any
    ) -> None:
        done, last = 0, offset + length - 1
        for attempt in range(ATTEMPTS):
            request: dict[str, Any] = {"Bucket": self.store.bucket, "Key": self.key}
            request["Range"] = f"bytes={offset + done}-{last}"
            if version:
                request["IfMatch"] = version
            try:
                with _streaming_errors(self.store.uri(self.key)):
                    with aws_errors(self.what):
                        response = self.store.s3.get_object(**request)
                    if offset == 0 and not self.seen:
                        self.seen.append(response)  # its encryption says what its ETag is
                    opened(response.get("ETag"))
                    for chunk in response["Body"].iter_chunks(CHUNK):
                        write(chunk)
                        done += len(chunk)
                return
            except _Transient as e:
                if attempt == ATTEMPTS - 1:
                    raise as_mlx_error(e.cause, self.what) from e.cause


class _Transient(Exception):
    """A read cut short (a reset, a timeout): worth resuming from where it stopped."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


@contextlib.contextmanager
def _streaming_errors(uri: str) -> Iterator[None]:
    """botocore's errors while reading a body: cut reads become ``_Transient``; a CRC that
    botocore checked and found wrong becomes the checksum error of ``mlx.transfer``."""
    from botocore.exceptions import (
        ConnectionClosedError,
        FlexibleChecksumError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    try:
        yield
    except (ResponseStreamingError, IncompleteReadError, ReadTimeoutError,
            ConnectionClosedError) as e:  # fmt: skip
        raise _Transient(e) from e
    except FlexibleChecksumError as e:  # botocore checked the object's own CRC
        raise BackendError(
            f"checksum mismatch for {uri}: {e}; nothing was written",
            hint="Run pull-artifacts again; a file the job is still writing can change.",
        ) from e


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


class MultipartEtag:
    """The ETag of a multipart upload of ``part_size`` parts, fed the bytes in order."""

    def __init__(self, part_size: int) -> None:
        self.part_size, self.filled = part_size, 0
        self.current = hashlib.md5()
        self.digests: list[bytes] = []

    def update(self, data: bytes) -> None:
        while data:
            taken = data[: self.part_size - self.filled]
            self.current.update(taken)
            self.filled += len(taken)
            data = data[len(taken) :]
            if self.filled == self.part_size:
                self.digests.append(self.current.digest())
                self.current, self.filled = hashlib.md5(), 0

    def hexdigest(self) -> str:
        digests = self.digests + ([self.current.digest()] if self.filled else [])
        return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def upload_part_size(etag: Optional[str], size: int) -> Optional[int]:
    """The part size a multipart upload whose ETag is ``etag`` most likely used (the first
    common size that gives its part count); None for a single-part ETag, or no guess."""
    count = (etag or "").partition("-")[2]
    sizes = _part_sizes(size, int(count)) if count.isdigit() else []
    return sizes[0] if sizes else None


def etag_digest(etag: Optional[str], size: int) -> Any:
    """What computes an object's ETag in the form of ``etag`` as its bytes arrive: an MD5,
    or a multipart ETag at the likeliest part size; None when there is no telling."""
    if not etag:
        return None
    if "-" not in etag:
        return hashlib.md5()
    count = etag.partition("-")[2]
    sizes = _part_sizes(size, int(count)) if count.isdigit() else []
    return MultipartEtag(sizes[0]) if sizes else None


def local_etag(path: Path, etag: str) -> Optional[str]:
    """``path``'s S3 ETag in the form of ``etag``: the MD5 for a single-part upload; for a
    multipart one (``<md5 of part md5s>-<parts>``) the part size is not recorded, so the
    common sizes that give that many parts are tried. One computed while the file was
    downloaded is taken when it matches (else the file is read again, every size tried)."""
    if take_digest(path) == etag:
        return etag
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
