"""A small blob comes in one plain GET (``mlx.backends.azure.blob_get``, issue 19): the
request Blob storage receives, and what happens when that GET fails or is refused — the
SDK's own download does it again, so the bytes and errors are the SDK's."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import ContainerClient, LinearRetry

from mlx.backends.azure.blob_get import environment_once_session
from mlx.backends.azure.objects import BlobStore
from mlx.cloud.objects import take_digest
from mlx.errors import MlxError
from tests.emulators.azurite import DEV_ACCOUNT, DEV_KEY, AzuriteServer
from tests.emulators.proxy import FaultProxy

NAMES = ["model/a b.bin", "model/ü+%#?.bin", "model/x~y.bin"]
KEY = {"account_name": DEV_ACCOUNT, "account_key": DEV_KEY}


def _container(azurite: AzuriteServer, proxy: FaultProxy) -> ContainerClient:
    """A container of ``NAMES``, reached through ``proxy`` with the account key."""
    name = azurite.create_container()
    direct = azurite.service_client().get_container_client(name)
    for blob in NAMES:
        direct.upload_blob(blob, os.urandom(3000) + blob.encode())
    return ContainerClient(
        f"{proxy.url}/{DEV_ACCOUNT}",
        name,
        credential=KEY,
        retry_policy=LinearRetry(backoff=0, random_jitter_range=0),
    )


def _pull(store: BlobStore, name: str, target: Path, checksum: Optional[str] = None) -> list[int]:
    counted: list[int] = []
    store.download(name, target, counted.append, checksum, size=3000 + len(name.encode()))
    return counted


def _stored(azurite: AzuriteServer, container: ContainerClient, name: str) -> bytes:
    """The blob as Azurite holds it (read around the proxy)."""
    direct = azurite.service_client().get_container_client(container.container_name)
    return bytes(direct.download_blob(name).readall())


def _gets(proxy: FaultProxy, container: ContainerClient, name: str) -> list[Any]:
    """The GETs of blob ``name`` the proxy saw, as the SDK addresses the blob."""
    path = urlsplit(container.get_blob_client(name).url).path
    return [r for r in proxy.requests if r.method == "GET" and urlsplit(r.path).path == path]


def test_a_small_blob_is_one_get_with_a_read_only_sas_signed_with_the_key(
    azurite: AzuriteServer, azurite_proxy: FaultProxy, tmp_path: Path
) -> None:
    container = _container(azurite, azurite_proxy)
    store = BlobStore(container)

    for i, name in enumerate(NAMES):
        target = tmp_path / f"f{i}"
        listed = hashlib.md5(_stored(azurite, container, name)).hexdigest()  # its Content-MD5
        counted = _pull(store, name, target, listed)
        data = target.read_bytes()
        assert data == _stored(azurite, container, name)
        assert sum(counted) == len(data)
        assert take_digest(target) == hashlib.md5(data).hexdigest()  # no second read

    for name in NAMES:
        (get,) = _gets(azurite_proxy, container, name)
        query = parse_qs(urlsplit(get.path).query)
        assert query["sp"] == ["r"] and query["sr"] == ["c"] and "sig" in query
        assert "Authorization" not in get.headers
        assert get.headers["x-ms-version"] == container.api_version
    # One SAS for the container, signed once.
    assert (
        len({urlsplit(g.path).query for n in NAMES for g in _gets(azurite_proxy, container, n)})
        == 1
    )


def test_a_container_reached_with_a_sas_sends_that_sas(
    azurite: AzuriteServer, azurite_proxy: FaultProxy, tmp_path: Path
) -> None:
    name = azurite.create_container()
    azurite.service_client().get_container_client(name).upload_blob(NAMES[0], b"weights")
    sas = urlsplit(azurite.container_sas_url(name, permission="rl")).query
    container = ContainerClient(f"{azurite_proxy.url}/{DEV_ACCOUNT}", name, credential=sas)

    BlobStore(container).download(NAMES[0], tmp_path / "w", lambda n: None, size=7)

    assert (tmp_path / "w").read_bytes() == b"weights"
    assert take_digest(tmp_path / "w") is None  # no listed MD5: no digest kept for a check
    (get,) = _gets(azurite_proxy, container, NAMES[0])
    assert urlsplit(get.path).query == sas


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "error", "status": 503},
        {"kind": "throttle"},
        {"kind": "reset", "after_bytes": 1000},
        {"kind": "short", "after_bytes": 1000},
    ],
)
def test_a_get_that_fails_is_done_again_by_the_sdk(
    azurite: AzuriteServer, azurite_proxy: FaultProxy, tmp_path: Path, fault: dict[str, Any]
) -> None:
    container = _container(azurite, azurite_proxy)
    name = NAMES[0]
    azurite_proxy.plan.add(f"GET *{container.container_name}/model/a*", **fault)

    counted = _pull(BlobStore(container), name, tmp_path / "f")

    data = (tmp_path / "f").read_bytes()
    assert data == _stored(azurite, container, name)
    assert sum(counted) == len(data)  # what the failed GET counted is taken back
    plain, sdk = _gets(azurite_proxy, container, name)[:2]
    assert "sig=" in plain.path and "Authorization" not in plain.headers
    assert sdk.headers["Authorization"].startswith("SharedKey ")


def test_after_a_refusal_the_sdk_does_every_get_and_says_why(
    azurite: AzuriteServer, azurite_proxy: FaultProxy, tmp_path: Path
) -> None:
    container = _container(azurite, azurite_proxy)
    store = BlobStore(container)
    azurite_proxy.plan.add("GET *", "error", status=403, times=2)

    with pytest.raises(MlxError) as refused:
        _pull(store, NAMES[0], tmp_path / "f0")
    _pull(store, NAMES[1], tmp_path / "f1")

    # The SDK's error, from the service's answer (the proxy's injected one).
    assert str(refused.value) == f"Azure ML downloading {NAMES[0]} failed: injected fault"
    assert (tmp_path / "f1").read_bytes() == _stored(azurite, container, NAMES[1])
    first = _gets(azurite_proxy, container, NAMES[0])
    assert ["sig=" in g.path for g in first] == [True, False]  # plain, then the SDK's
    (second,) = _gets(azurite_proxy, container, NAMES[1])
    assert second.headers["Authorization"].startswith("SharedKey ")


def test_proxy_settings_are_read_from_the_environment_once_per_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = environment_once_session("http")
    monkeypatch.setenv("HTTP_PROXY", "http://10.1.2.3:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    def proxies(url: str) -> Any:
        return session.merge_environment_settings(url, {}, True, None, None)["proxies"]

    assert proxies("http://blob.example/a")["http"] == "http://10.1.2.3:3128"
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:1")
    assert proxies("http://blob.example/b")["http"] == "http://10.1.2.3:3128"  # same host
    assert proxies("http://other.example/a")["http"] == "http://10.9.9.9:1"


def test_bytes_counted_before_a_drop_are_taken_back(
    azurite: AzuriteServer, azurite_proxy: FaultProxy, tmp_path: Path
) -> None:
    name = azurite.create_container()
    data = os.urandom(2 * 1024 * 1024 + 100)  # two chunks and more: one is counted
    azurite.service_client().get_container_client(name).upload_blob("model/w.bin", data)
    container = ContainerClient(f"{azurite_proxy.url}/{DEV_ACCOUNT}", name, credential=KEY)
    azurite_proxy.plan.add("GET *", "short", after_bytes=1536 * 1024)
    counted: list[int] = []

    BlobStore(container).download("model/w.bin", tmp_path / "w", counted.append, size=len(data))

    assert (tmp_path / "w").read_bytes() == data
    taken = next(i for i, n in enumerate(counted) if n < 0)  # the plain GET's bytes
    assert counted[taken] == -sum(counted[:taken]) and sum(counted[:taken]) >= 1 << 20
    assert sum(counted) == len(data)
