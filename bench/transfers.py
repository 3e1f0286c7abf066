"""Pulls beside each SDK's own transfer manager, each connection held to a network's rate.

    python bench/transfers.py [--rate-mb 50] [--s3-mb 256] [--gcs-mb 256] [--azure-mb 256]
        [--s3-files 200] [--azure-files 100] [--repeat 3] [--only s3,gcs,azure]

Each cloud's emulator sits behind ``throttle.Throttle``: every TCP connection carries at most
``--rate-mb`` MB/s each way, as one connection to a cloud does, so what counts is how many
connections a client keeps busy. Rows (baseline and mlx run alternately, ``--repeat``
times each, medians shown):

- S3, one large file: boto3 ``download_file`` with the default ``TransferConfig``, vs mlx;
- S3, many 1 MB files: boto3 ``download_file`` in a pool of 8 threads, vs mlx;
- GCS, one large file: ``transfer_manager.download_chunks_concurrently`` (threads, its
  default 32 MiB chunks and 8 workers), vs mlx;
- Azure, one large file: ``download_blob(max_concurrency=4).readinto``, vs mlx;
- Azure, many 1 MB files: ``download_blob().readinto`` in a pool of 8 threads, vs mlx.

"mlx" is ``mlx.transfer.pull`` over the cloud's ``ObjectStore`` (what ``pull-artifacts``
runs after its listing: skip-if-same, parallel ranged parts, the checksum check, the
rename), with a listing of the prefix first; the Azure ML and Vertex job lookups are left
out. moto's ranged GetObject reads the whole object per request (DESIGN.md), so the S3
server here answers object GETs from moto's own stored bytes by seeking to the range
(``FastRanges``); every other S3 call is moto's.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

from throttle import Throttle

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mlx.backends.sagemaker.objects import etag_digest as ETAG_DIGEST  # noqa: E402
from tests.emulators.aws import AwsServer  # noqa: E402

MB = 1 << 20
BUCKET = "bench"
Row = tuple[str, str, list[float], list[float], list[float]]


def _random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        for _ in range(size // MB):
            f.write(os.urandom(MB))
        f.write(os.urandom(size % MB))
    return path


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


CHECKED = [True]  # False: the diagnostic column, mlx without its checksum check


def mlx_pull(store: Any, prefix: str, dest: Path) -> None:
    """What ``pull-artifacts`` does with a job's files once it knows where they are."""
    from mlx import transfer
    from mlx.backends.sagemaker import objects
    from mlx.cloud.objects import list_under

    artifacts = list_under(store, prefix)
    if not CHECKED[0]:  # no MD5 fed while the parts arrive, no check after
        objects.etag_digest = lambda etag, size: None  # type: ignore[assignment]

    def download(artifact: Any, target: Path, progress: Any) -> None:
        key = prefix + artifact.path
        store.download(key, target, progress, artifact.checksum, size=artifact.size)

    def local(path: Path, artifact: Any) -> Any:
        return store.local_checksum(path, artifact.checksum) if artifact.checksum else None

    try:
        checked = local if CHECKED[0] else None
        transfer.pull(artifacts, dest, download, local_checksum=checked, show_progress=False)
    finally:
        objects.etag_digest = ETAG_DIGEST


# -- S3 --------------------------------------------------------------------------------


class FastRanges(AwsServer):
    """The AWS test server, answering S3 object GETs from moto's stored bytes by seeking to
    the range asked for (moto copies the whole object for each ranged GET)."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        key = _moto_key(environ)
        if key is None:
            return super().__call__(environ, start_response)
        etag = key.etag
        wanted = environ.get("HTTP_IF_MATCH")
        if wanted and wanted.strip('"') != etag.strip('"'):
            start_response("412 Precondition Failed", [("Content-Length", "0")])
            return [b""]
        begin, end, status = 0, key.size - 1, "200 OK"
        headers = [("ETag", etag), ("Last-Modified", key.last_modified_RFC1123)]
        if environ.get("HTTP_RANGE"):
            first, _, last = environ["HTTP_RANGE"].split("=", 1)[1].partition("-")
            begin, end = int(first), min(int(last) if last else end, end)
            status = "206 Partial Content"
            headers.append(("Content-Range", f"bytes {begin}-{end}/{key.size}"))
        headers += [("Content-Length", str(end - begin + 1)), ("Accept-Ranges", "bytes")]
        start_response(status, headers)
        return _read(key, begin, end)


def _moto_key(environ: dict[str, Any]) -> Any:
    if environ["REQUEST_METHOD"] != "GET" or environ.get("QUERY_STRING"):
        return None
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket, _, key = unquote(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
    found = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets.get(bucket)
    return found.keys.get(key) if found is not None and key else None


def _read(key: Any, begin: int, end: int) -> Iterator[bytes]:
    position = begin
    while position <= end:
        with key.lock:
            key._value_buffer.seek(position)
            data = key._value_buffer.read(min(MB, end - position + 1))
        yield data
        position += len(data)


def s3_rows(args: argparse.Namespace, scratch: Path) -> list[Row]:
    import boto3

    from mlx.backends.sagemaker.clients import AwsClients
    from mlx.backends.sagemaker.objects import S3Store

    server = FastRanges().start()
    throttle = Throttle(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), args.rate).start()
    os.environ.update(
        AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1"
    )
    direct = boto3.client("s3", endpoint_url=server.url)
    direct.create_bucket(Bucket=BUCKET)
    big = _random_file(scratch / "s3-big", args.s3_mb * MB)
    direct.upload_file(str(big), BUCKET, "one/big.bin")
    for i in range(args.s3_files):
        direct.put_object(Bucket=BUCKET, Key=f"many/f{i:03}.bin", Body=os.urandom(MB))
    os.environ["AWS_ENDPOINT_URL"] = throttle.url
    sdk = boto3.client("s3")  # botocore's defaults: 10 connections, TransferConfig()
    store = S3Store(AwsClients("us-east-1").s3, BUCKET)

    def sdk_many() -> None:
        dest = _fresh(scratch / "s3-sdk-many")
        keys = [f"many/f{i:03}.bin" for i in range(args.s3_files)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: sdk.download_file(BUCKET, k, str(dest / k[5:])), keys))

    one = (
        lambda: sdk.download_file(BUCKET, "one/big.bin", str(_fresh(scratch / "s3-sdk") / "b")),
        lambda: mlx_pull(store, "one/", _fresh(scratch / "s3-mlx")),
    )
    many = (sdk_many, lambda: mlx_pull(store, "many/", _fresh(scratch / "s3-mlx-many")))
    try:
        sdk_one = "boto3 `download_file`, default TransferConfig"
        sdk_many_name = "boto3 `download_file` in a pool of 8"
        return [
            _row(f"S3, one {args.s3_mb} MB file", sdk_one, one, args.repeat),
            _row(f"S3, {args.s3_files} × 1 MB", sdk_many_name, many, args.repeat),
        ]
    finally:
        throttle.stop()
        server.stop()


# -- GCS -------------------------------------------------------------------------------


def gcs_rows(args: argparse.Namespace, scratch: Path) -> list[Row]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
    from google.cloud.storage import transfer_manager

    from mlx.backends.vertex.clients import Backoff, Clients
    from mlx.backends.vertex.objects import GcsStore
    from mlx.backends.vertex.settings import Target
    from tests.emulators.gcs import GcsEmulator

    emulator = GcsEmulator().start()
    throttle = Throttle(("127.0.0.1", int(emulator.url.rsplit(":", 1)[1])), args.rate).start()
    os.environ["STORAGE_EMULATOR_HOST"] = emulator.url
    direct = storage.Client(project="bench", credentials=AnonymousCredentials())
    direct.create_bucket(BUCKET)
    big = _random_file(scratch / "gcs-big", args.gcs_mb * MB)
    direct.bucket(BUCKET).blob("one/big.bin").upload_from_filename(str(big))
    os.environ["STORAGE_EMULATOR_HOST"] = throttle.url
    sdk = storage.Client(project="bench", credentials=AnonymousCredentials())
    blob = sdk.bucket(BUCKET).get_blob("one/big.bin")
    bucket = Clients(Target("bench", "us-central1", BUCKET)).bucket()
    store = GcsStore(bucket, Backoff().storage_retry())

    def baseline() -> None:
        target = str(_fresh(scratch / "gcs-sdk") / "b")
        transfer_manager.download_chunks_concurrently(
            blob, target, max_workers=8, worker_type=transfer_manager.THREAD
        )

    pair = (baseline, lambda: mlx_pull(store, "one/", _fresh(scratch / "gcs-mlx")))
    try:
        what = "`transfer_manager.download_chunks_concurrently` (8 threads, 32 MiB chunks)"
        return [_row(f"GCS, one {args.gcs_mb} MB file", what, pair, args.repeat)]
    finally:
        throttle.stop()
        emulator.stop()


# -- Azure -----------------------------------------------------------------------------


def azure_rows(args: argparse.Namespace, scratch: Path) -> list[Row]:
    from azure.storage.blob import ContainerClient

    from mlx.backends.azure.objects import BlobStore
    from tests.emulators.azurite import DEV_ACCOUNT, DEV_KEY, AzuriteServer

    azurite = AzuriteServer().start()
    throttle = Throttle(("127.0.0.1", azurite.port), args.rate).start()
    key = {"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}
    name = azurite.create_container()
    direct = ContainerClient(azurite.url, name, credential=key)
    big = _random_file(scratch / "az-big", args.azure_mb * MB)
    with open(big, "rb") as data:
        direct.upload_blob("one/big.bin", data, max_concurrency=4)
    for i in range(args.azure_files):
        direct.upload_blob(f"many/f{i:03}.bin", os.urandom(MB))
    sdk = ContainerClient(f"{throttle.url}/{DEV_ACCOUNT}", name, credential=key)
    store = BlobStore(ContainerClient(f"{throttle.url}/{DEV_ACCOUNT}", name, credential=key))

    def sdk_one() -> None:
        with open(_fresh(scratch / "az-sdk") / "b", "wb") as out:
            sdk.download_blob("one/big.bin", max_concurrency=4).readinto(out)

    def sdk_many(checked: bool = False) -> None:
        """``checked``: the SDK's own check, validate_content=True, has the service send
        each range's MD5 and compares it (azure-storage-blob ``download_blob``)."""
        dest = _fresh(scratch / f"az-sdk-many-{checked}")

        def one(i: int) -> None:
            with open(dest / f"f{i:03}.bin", "wb") as out:
                sdk.download_blob(f"many/f{i:03}.bin", validate_content=checked).readinto(out)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(args.azure_files)))

    one = (sdk_one, lambda: mlx_pull(store, "one/", _fresh(scratch / "az-mlx")))
    many = (sdk_many, lambda: mlx_pull(store, "many/", _fresh(scratch / "az-mlx-many")))
    try:
        sdk_one_name = "`download_blob(max_concurrency=4).readinto`"
        sdk_many_name = "`download_blob().readinto` in a pool of 8"
        return [
            _row(f"Azure, one {args.azure_mb} MB file", sdk_one_name, one, args.repeat),
            _row(f"Azure, {args.azure_files} × 1 MB", sdk_many_name, many, args.repeat),
            _row(
                f"Azure, {args.azure_files} × 1 MB, both checking (a diagnostic)",
                "`download_blob(validate_content=True).readinto` in a pool of 8",
                (lambda: sdk_many(checked=True), many[1]),
                args.repeat,
            ),
        ]
    finally:
        throttle.stop()
        azurite.stop()


# -- running and reporting -------------------------------------------------------------


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _row(what: str, baseline: str, pair: tuple[Any, Any], repeat: int) -> Row:
    sdk_times, mlx_times, unchecked = [], [], []
    for _ in range(repeat):  # alternately: all see the same load on a shared machine
        sdk_times.append(_timed(pair[0]))
        mlx_times.append(_timed(pair[1]))
        CHECKED[0] = False
        try:
            unchecked.append(_timed(pair[1]))
        finally:
            CHECKED[0] = True
    print(f"{what}: sdk {sdk_times}, mlx {mlx_times}, unchecked {unchecked}", file=sys.stderr)
    return what, baseline, sdk_times, mlx_times, unchecked


def _load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def report(rows: list[Row], args: argparse.Namespace, load_before: str, load_after: str) -> str:
    uname = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"## Transfers — `python bench/transfers.py {' '.join(sys.argv[1:])}`",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; `{uname}`; nproc {os.cpu_count()}; "
        f"Python {platform.python_version()}; load average (1, 5, 15 min) {load_before} "
        f"before, {load_after} after (a machine shared with other work). Each TCP "
        f"connection held to {args.rate_mb} MB/s each way by `bench/throttle.py`. "
        f"Medians of {args.repeat} runs, baseline, mlx and mlx without its checksum check "
        "(a diagnostic: what the check costs) alternating; all runs in brackets.",
        "",
        "| what | baseline | baseline s | mlx s | mlx / baseline "
        "| mlx without its checksum check s | / baseline |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for what, baseline, sdk, mine, unchecked in rows:
        a, b, c = (statistics.median(x) for x in (sdk, mine, unchecked))
        runs = " / ".join(f"[{', '.join(f'{t:.2f}' for t in x)}]" for x in (sdk, mine, unchecked))
        lines.append(
            f"| {what} | {baseline} | {a:.2f} | {b:.2f} | {b / a:.2f}× | {c:.2f} | {c / a:.2f}× |"
        )
        lines.append(f"|  | runs (baseline / mlx / without check) | | | | | {runs} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate-mb", type=float, default=50.0)
    parser.add_argument("--s3-mb", type=int, default=256)
    parser.add_argument("--gcs-mb", type=int, default=256)
    parser.add_argument("--azure-mb", type=int, default=256)
    parser.add_argument("--s3-files", type=int, default=200)
    parser.add_argument("--azure-files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="s3,gcs,azure")
    args = parser.parse_args()
    args.rate = args.rate_mb * 1e6
    scratch = Path(tempfile.mkdtemp(prefix="mlx-bench-transfers-"))
    os.environ["MLX_HOME"] = str(scratch / "home")
    load_before = _load()
    rows: list[Row] = []
    try:
        for name, rows_of in (("s3", s3_rows), ("gcs", gcs_rows), ("azure", azure_rows)):
            if name in args.only.split(","):
                rows += rows_of(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(report(rows, args, load_before, _load()))


if __name__ == "__main__":
    main()
