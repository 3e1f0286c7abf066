"""Pulls at the network's speed, on the three emulated clouds (issue #19, item 1).

Each test puts a watching proxy between mlx and the cloud's object store (S3 on moto, GCS
on gcp-storage-emulator, Blob on Azurite): it records each request with its byte range,
counts the requests in flight at once and the TCP connections opened. Parts are made small
by ``MLX_TRANSFER_PART_SIZE`` so the tests stay fast. What is asserted is what a user or the
store sees: the bytes pulled, the ranges and listing prefixes the server received, the
connections, and what is left in ``--dest`` when a part fails.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Optional, cast
from urllib.parse import parse_qs, urlsplit

import pytest

from mlx.cloud.parts import spans

# The providers' fixtures (servers, fast polling), registered here by importing them.
from tests.backends.azure.conftest import azure, proxied  # noqa: F401
from tests.backends.sagemaker.conftest import sm  # noqa: F401
from tests.backends.vertex.conftest import gcp  # noqa: F401
from tests.emulators.proxy import FaultProxy
from tests.reliability.clouds import Cloud, SageMaker, cloud_for
from tests.reliability.test_retries import files_under

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PROVIDERS = ("sagemaker", "vertex", "azure")
PART = 64 << 10
BIG = os.urandom(17 * PART + 123)  # 18 parts, the last one short


def _range(headers: dict[str, str]) -> str:
    """The byte range asked for: ``Range`` (S3, GCS) or ``x-ms-range`` (Azure Blob)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get("x-ms-range") or lowered.get("range") or ""


def _operation(method: str, path: str, headers: dict[str, str]) -> str:
    return f"{method} {urlsplit(path).path} {_range(headers)}".rstrip()


class WatchingProxy(FaultProxy):
    """A FaultProxy that also counts requests in flight at once and client connections."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, operation=_operation)
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.connections: set[Any] = set()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.connections.add(handler.client_address)
        try:
            super()._handle(handler)
        finally:
            with self._lock:
                self.in_flight -= 1

    def forget(self) -> None:
        """Start counting afresh (a test's own uploads may have come through)."""
        with self._lock:
            self.requests.clear()
            self.connections.clear()
            self.most_in_flight = 0

    def ranges(self, name: str) -> list[str]:
        """The ranges of the GETs of an object whose key ends with ``name``."""
        reads = [r for r in self.requests if r.method == "GET"]
        return [_range(r.headers) for r in reads if urlsplit(r.path).path.endswith(name)]

    def listing_prefixes(self) -> list[str]:
        """The ``prefix`` of every listing request (ListObjectsV2, objects.list, List Blobs)."""
        found = []
        for r in self.requests:
            query = parse_qs(urlsplit(r.path).query)
            if r.method == "GET" and "prefix" in query:
                found.append(query["prefix"][0])
        return found


class Watched:
    """A submitted job on one cloud, and the proxy its object store is reached through."""

    def __init__(self, cloud: Cloud, job: dict[str, Any], proxy: WatchingProxy) -> None:
        self.cloud, self.job, self.proxy = cloud, job, proxy


@pytest.fixture(params=PROVIDERS)
def watched(
    request: pytest.FixtureRequest, mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    cloud = cloud_for(request, request.param)
    result = mlx("train", cloud.spec(tmp_path), "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    cloud.run(job)
    proxy = WatchingProxy(_store_url(request, request.param))
    proxy.start()
    try:
        _reach_store_through(proxy, request.param, monkeypatch)
        monkeypatch.setenv("MLX_TRANSFER_PART_SIZE", str(PART))
        monkeypatch.setenv("MLX_TRANSFER_CONCURRENCY", "4")
        yield Watched(cloud, job, proxy)
    finally:
        proxy.stop()


def _store_url(request: pytest.FixtureRequest, provider: str) -> str:
    if provider == "sagemaker":
        return str(request.getfixturevalue("sm").url)
    if provider == "vertex":
        return str(request.getfixturevalue("gcs").upstream_url)
    return f"http://127.0.0.1:{request.getfixturevalue('azurite').port}"


def _reach_store_through(proxy: WatchingProxy, provider: str, monkeypatch: Any) -> None:
    """Point the SDK's object-store endpoint at ``proxy`` (clients are keyed by these
    variables: the pull makes its own)."""
    if provider == "sagemaker":
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    elif provider == "vertex":
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    else:
        monkeypatch.setenv("MLX_AZURE_BLOB_ENDPOINT", f"{proxy.url}/devstoreaccount1")


def _pull(mlx: Any, watched: Watched, dest: Path, *args: str) -> Any:
    watched.proxy.forget()
    return mlx("pull-artifacts", watched.job["id"], "--dest", dest, *args)


def test_a_large_file_arrives_byte_for_byte_in_parallel_ranged_parts(
    mlx: Any, watched: Watched, tmp_path: Path
) -> None:
    watched.cloud.put(watched.job, "model/big.bin", BIG)
    # Each part's answer waits: parts that really run at once overlap at the proxy.
    watched.proxy.plan.add("GET *big.bin bytes=*", "slow", delay=0.2, times=100)

    result = _pull(mlx, watched, tmp_path / "out", "-i", "model/big.bin")

    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "model" / "big.bin").read_bytes() == BIG
    asked = sorted(watched.proxy.ranges("big.bin"), key=lambda r: int(r[6:].split("-")[0]))
    assert asked == [f"bytes={o}-{o + n - 1}" for o, n in spans(len(BIG), PART)]
    assert watched.proxy.most_in_flight == 4  # MLX_TRANSFER_CONCURRENCY, never more


def test_a_part_that_fails_leaves_nothing_at_the_destination(
    mlx: Any, watched: Watched, tmp_path: Path
) -> None:
    watched.cloud.put(watched.job, "model/big.bin", BIG)
    third = f"bytes={2 * PART}-{3 * PART - 1}"
    watched.proxy.plan.add(f"GET *big.bin {third}", "error", status=403, times=100)
    dest = tmp_path / "out"

    result = _pull(mlx, watched, dest)

    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert files_under(dest) == []  # neither the file nor a part file of it
    assert third in watched.proxy.ranges("big.bin")


def test_many_small_files_share_one_pool_of_connections(
    mlx: Any, watched: Watched, tmp_path: Path
) -> None:
    files = {f"model/f{i:02}.txt": os.urandom(3000) for i in range(24)}
    for path, data in files.items():
        watched.cloud.put(watched.job, path, data)

    result = _pull(mlx, watched, tmp_path / "out")

    assert result.exit_code == 0, result.stderr
    for path, data in files.items():
        assert (tmp_path / "out" / path).read_bytes() == data
    # A client (a connection pool) per file would open a connection per file; one client
    # per process reuses at most one per transfer in flight, and one for the listing.
    assert len(watched.proxy.connections) <= 4 + 1


def test_an_exact_include_lists_only_its_own_prefix(
    mlx: Any, watched: Watched, tmp_path: Path
) -> None:
    for path in ("model/a.bin", "model/b.bin", "output/c.txt"):
        watched.cloud.put(watched.job, path, path.encode())

    result = _pull(mlx, watched, tmp_path / "out", "-i", "model/a.bin")

    assert result.exit_code == 0, result.stderr
    assert files_under(tmp_path / "out") == ["model/a.bin"]
    prefixes = watched.proxy.listing_prefixes()
    assert prefixes and all(p.endswith("model/a.bin") for p in prefixes), prefixes


def test_a_glob_include_lists_the_whole_job(mlx: Any, watched: Watched, tmp_path: Path) -> None:
    """The counterpart: a glob cannot narrow the listing."""
    watched.cloud.put(watched.job, "model/a.bin", b"a")

    result = _pull(mlx, watched, tmp_path / "out", "-i", "model/*.bin")

    assert result.exit_code == 0, result.stderr
    assert files_under(tmp_path / "out") == ["model/a.bin"]
    prefixes = watched.proxy.listing_prefixes()
    assert prefixes and not any("model" in p for p in prefixes), prefixes


@pytest.mark.parametrize("watched", ["sagemaker"], indirect=True)
@pytest.mark.parametrize(
    "name, value",
    [("MLX_TRANSFER_CONCURRENCY", "0"), ("MLX_TRANSFER_PART_SIZE", "8 parsecs")],
)
def test_a_bad_transfer_setting_is_one_line_before_anything_is_written(
    mlx: Any, watched: Watched, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
    value: str,
) -> None:  # fmt: skip
    watched.cloud.put(watched.job, "model/a.bin", b"a")
    monkeypatch.setenv(name, value)
    result = _pull(mlx, watched, tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {name}={value!r} is not")
    assert not (tmp_path / "out").exists()


def _boto3_clients_made(monkeypatch: pytest.MonkeyPatch) -> list[Optional[str]]:
    """Every botocore client made from now on (boto3's default session; botocore emits
    ``creating-client-class.<service>`` for each client it creates)."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    made: list[Optional[str]] = []
    events = boto3.DEFAULT_SESSION.events

    def seen(class_attributes: Any, **kwargs: Any) -> None:
        made.append(kwargs.get("event_name"))

    events.register("creating-client-class.s3", seen, unique_id="test-count-s3")
    return made


@pytest.mark.parametrize("watched", ["sagemaker"], indirect=True)
def test_sagemaker_makes_one_s3_client_for_a_pull_of_many_files(
    mlx: Any, watched: Watched, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(12):
        watched.cloud.put(watched.job, f"model/f{i}.txt", b"x" * 100)
    made = _boto3_clients_made(monkeypatch)
    try:
        result = _pull(mlx, watched, tmp_path / "out")
    finally:
        import boto3

        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.unregister(
            "creating-client-class.s3", unique_id="test-count-s3"
        )
    assert result.exit_code == 0, result.stderr
    assert len(files_under(tmp_path / "out")) == 12
    assert len(made) == 1  # the endpoint changed (the proxy): one new client, for all files


@pytest.mark.parametrize("part_size", [PART, 3 * PART])
def test_an_etag_fed_in_pieces_is_the_etag_of_the_file(tmp_path: Path, part_size: int) -> None:
    """What S3Store computes while parts arrive (so the check after needs no second read)
    is what the check computes from the file."""
    from mlx.backends.sagemaker.objects import MultipartEtag, _multipart_etag

    path = tmp_path / "f"
    path.write_bytes(BIG)
    fed = MultipartEtag(part_size)
    for start in range(0, len(BIG), 50_000):  # pieces that straddle the parts' ends
        fed.update(BIG[start : start + 50_000])
    assert fed.hexdigest() == _multipart_etag(path, part_size)


def test_ctrl_c_amid_the_parts_of_a_file_stops_at_once_and_leaves_nothing(
    watched: Watched, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import subprocess_env

    watched.cloud.put(watched.job, "model/big.bin", BIG)
    watched.proxy.forget()
    watched.proxy.plan.add("GET *big.bin bytes=*", "slow", delay=6.0, times=100)
    dest = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-m", "mlx", "pull-artifacts", watched.job["id"], "--dest", str(dest)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(watched.proxy.ranges("big.bin")) < 4:  # parts in flight at once
        assert time.monotonic() < deadline and child.poll() is None, "no parts were asked for"
        time.sleep(0.05)
    began = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert time.monotonic() - began < 3.0  # not the 6 s each part's answer takes
    assert child.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert files_under(dest) == []  # neither the file nor its preallocated part file


@pytest.mark.parametrize("watched", ["sagemaker"], indirect=True)
def test_an_s3_file_uploaded_in_parts_is_fetched_in_the_same_parts(
    mlx: Any, watched: Watched, tmp_path: Path
) -> None:
    """Its ETag is the MD5 of its parts' MD5s: fetched in the upload's parts, each part's
    MD5 is computed as it arrives, in parallel."""
    from tests.backends.sagemaker.conftest import BUCKET

    upload = 5 << 20  # S3's smallest part (all but the last)
    data = os.urandom(2 * upload + 1234)
    key = f"mlx/{watched.job['id']}/{watched.job['native_id']}/output/model/parted.bin"
    s3 = cast(SageMaker, watched.cloud).sm.client("s3")
    started = s3.create_multipart_upload(Bucket=BUCKET, Key=key)
    done = []
    for number, start in enumerate(range(0, len(data), upload), 1):
        part = s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=started["UploadId"], PartNumber=number,
            Body=data[start : start + upload],
        )  # fmt: skip
        done.append({"PartNumber": number, "ETag": part["ETag"]})
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=started["UploadId"], MultipartUpload={"Parts": done}
    )

    result = _pull(mlx, watched, tmp_path / "out", "-i", "model/parted.bin")

    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "model" / "parted.bin").read_bytes() == data
    asked = sorted(watched.proxy.ranges("parted.bin"), key=lambda r: int(r[6:].split("-")[0]))
    assert asked == [f"bytes={o}-{o + n - 1}" for o, n in spans(len(data), upload)]
