"""The object-store protocol through each cloud's real adapter, against its emulator.

S3Store over moto, GcsStore over gcp-storage-emulator, BlobStore over Azurite (through a
recording proxy), and the FolderStore a rehearsal keeps its buckets in: ``upload_once``
sends a tree once, then nothing while its marker is there, and again when the marker is
missing; listings give exact keys and sizes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from mlx.cloud.objects import (
    ObjectStore,
    list_under,
    marker_key,
    tree_digest,
    upload_once,
)
from tests.conftest import write
from tests.emulators.aws import AwsServer
from tests.emulators.azurite import DEV_ACCOUNT, DEV_KEY, AzuriteServer
from tests.emulators.gcs import GcsEmulator
from tests.emulators.proxy import FaultProxy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BUCKET = "mlx-objects"
STORES = ("s3", "gcs", "blob", "folder")


@dataclass
class Harness:
    """A store, how many writes reached its emulator, and a way to delete behind its back."""

    store: ObjectStore
    writes: Callable[[], int]
    delete: Callable[[str], None]


def s3_harness(aws: AwsServer) -> Harness:
    from mlx.backends.sagemaker.objects import S3Store

    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return Harness(
        S3Store(s3, BUCKET),
        lambda: aws.plan.count(f"S3 PUT /{BUCKET}/*") + aws.plan.count(f"S3 POST /{BUCKET}/*"),
        lambda key: s3.delete_object(Bucket=BUCKET, Key=key),
    )


def gcs_harness(gcs: GcsEmulator) -> Harness:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from mlx.backends.vertex.clients import Backoff
    from mlx.backends.vertex.objects import GcsStore

    client = storage.Client(project="test-project", credentials=AnonymousCredentials())
    bucket = client.create_bucket(BUCKET)
    return Harness(
        GcsStore(bucket, Backoff(0.01, 0.05, 5).storage_retry()),
        lambda: len(gcs.operations("objects.insert")),
        lambda key: bucket.blob(key).delete(),
    )


def blob_harness(azurite: AzuriteServer, proxy: FaultProxy) -> Harness:
    from azure.storage.blob import ContainerClient, LinearRetry

    from mlx.backends.azure.objects import BlobStore

    name = azurite.create_container()
    container = ContainerClient(
        f"{proxy.url}/{DEV_ACCOUNT}",
        name,
        credential={"account_name": DEV_ACCOUNT, "account_key": DEV_KEY},
        retry_policy=LinearRetry(backoff=0, random_jitter_range=0),
    )
    return Harness(
        BlobStore(container),
        lambda: sum(r.method == "PUT" for r in proxy.requests),
        container.delete_blob,
    )


def folder_harness(root: Path) -> Harness:
    from mlx.runner.folders import FolderStore

    class Counted(FolderStore):  # counts the writes that reach the folder
        writes = 0

        def put_file(self, key: str, path: Path) -> None:
            Counted.writes += 1
            super().put_file(key, path)

        def put_bytes(self, key: str, data: bytes) -> None:
            Counted.writes += 1
            super().put_bytes(key, data)

    store = Counted(root, "s3", BUCKET)
    return Harness(store, lambda: Counted.writes, lambda key: store.path(key).unlink())


@pytest.fixture(params=STORES)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "folder":
        yield folder_harness(tmp_path / "buckets")
    elif request.param == "s3":
        yield s3_harness(request.getfixturevalue("aws"))
    elif request.param == "gcs":
        yield gcs_harness(request.getfixturevalue("gcs"))
    else:
        azurite = request.getfixturevalue("azurite")
        yield blob_harness(azurite, request.getfixturevalue("azurite_proxy"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write(root / "train.csv", "x,y\n1,2\n")
    write(root / "nested" / "more.txt", "a" * 1000)
    write(root / "__pycache__" / "skip.pyc", "never uploaded")
    return root


def listed(store: ObjectStore, prefix: str) -> list[tuple[str, int]]:
    return [(info.key, info.size) for info in store.list(prefix)]


def test_upload_once_sends_a_tree_once_then_nothing(harness: Harness, tree: Path) -> None:
    prefix = f"mlx/inputs/{tree_digest(tree)}/"
    assert upload_once(harness.store, tree, prefix) is True
    sent = harness.writes()
    assert sent == 3  # two files, then the marker

    assert listed(harness.store, "mlx/inputs/") == [
        (prefix.rstrip("/") + ".complete", 0),
        (f"{prefix}nested/more.txt", 1000),
        (f"{prefix}train.csv", 8),
    ]
    assert upload_once(harness.store, tree, prefix) is False
    assert harness.writes() == sent


def test_a_missing_marker_uploads_again(harness: Harness, tree: Path) -> None:
    prefix = f"mlx/inputs/{tree_digest(tree)}/"
    upload_once(harness.store, tree, prefix)
    harness.delete(marker_key(prefix))  # an upload cut before its end leaves no marker
    sent = harness.writes()

    assert upload_once(harness.store, tree, prefix) is True
    assert harness.writes() == sent + 3
    assert harness.store.exists(marker_key(prefix))


def test_listing_maps_keys_to_artifact_paths(harness: Harness, tree: Path) -> None:
    upload_once(harness.store, tree, "job/")
    harness.store.put_bytes("job/mlx/runtime.json", b"{}")
    harness.store.put_bytes("other/file", b"not under the prefix")

    def mapper(key: str) -> Any:
        path = key[len("job/") :]
        return None if path.startswith("mlx/") else path

    found = list_under(harness.store, "job/", mapper)
    assert [(a.path, a.size) for a in found] == [("nested/more.txt", 1000), ("train.csv", 8)]
    assert all(a.checksum and a.modified for a in found)


def test_bytes_round_trip_and_a_missing_object_is_none(harness: Harness) -> None:
    harness.store.put_bytes("mlx/job/metrics.jsonl", b'{"loss": 1}\n')
    assert harness.store.get_bytes("mlx/job/metrics.jsonl") == b'{"loss": 1}\n'
    assert harness.store.get_bytes("mlx/job/missing") is None
    assert not harness.store.exists("mlx/job/missing")


def test_a_download_matches_the_listed_checksum(
    harness: Harness, tree: Path, tmp_path: Path
) -> None:
    upload_once(harness.store, tree, "job/")
    (info,) = [i for i in harness.store.list("job/") if i.key == "job/nested/more.txt"]
    target = tmp_path / "more.txt"
    seen: list[int] = []

    verifiable = harness.store.download(info.key, target, seen.append, info.checksum)
    assert verifiable is True
    assert target.read_text() == "a" * 1000 and sum(seen) == 1000
    assert info.checksum is not None
    assert harness.store.local_checksum(target, info.checksum) == info.checksum


def test_a_ranged_read_returns_exactly_the_bytes_asked_for(harness: Harness) -> None:
    data = bytes(range(256)) * 4
    harness.store.put_bytes("logs/std_log.txt", data)
    assert harness.store.read_range("logs/std_log.txt", 0, 10) == data[:10]
    assert harness.store.read_range("logs/std_log.txt", 700, 324) == data[700:]
