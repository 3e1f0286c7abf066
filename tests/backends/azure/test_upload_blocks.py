"""A large file goes to Blob storage in blocks sent in parallel (issue 19), the way the SDK's
own ``upload_blob(max_concurrency=N)`` sends them, and arrives whole."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from azure.storage.blob import ContainerClient

from mlx.backends.azure.objects import BlobStore
from tests.emulators.azurite import AzuriteServer
from tests.emulators.proxy import FaultProxy

MIB = 1 << 20


def test_a_file_over_one_put_is_sent_as_blocks_several_at_once(
    azurite: AzuriteServer, azurite_proxy: FaultProxy, tmp_path: Path
) -> None:
    name = azurite.create_container("uploads")
    url = azurite.connection_string.replace(azurite.url.rsplit("/", 1)[0], azurite_proxy.url)
    # The SDK's own thresholds, scaled down (64 MiB single put, 4 MiB blocks by default).
    client = ContainerClient.from_connection_string(
        url, name, max_single_put_size=2 * MIB, max_block_size=MIB
    )
    data = os.urandom(8 * MIB + 123)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    reported: list[int] = []

    BlobStore(client).put_file("model/model.bin", source, reported.append)

    comps = [parse_qs(urlsplit(r.path).query).get("comp") for r in azurite_proxy.requests]
    blocks = [comp for comp in comps if comp == ["block"]]
    assert len(blocks) == 9  # 8 blocks of 1 MiB and the rest
    assert azurite_proxy.most_in_flight > 1  # several at once
    assert sum(reported) == len(data)  # progress counted each byte once
    stored = azurite.service_client().get_container_client(name)
    assert stored.download_blob("model/model.bin").readall() == data
