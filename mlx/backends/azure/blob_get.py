"""A small blob's bytes in one plain GET, the way ``BlobStore.download`` fetches a file of
one part when the container is reached with an account key, a SAS or anonymously.

Why not the SDK's ``download_blob`` for these: through azure-storage-blob each GET costs
~1.5 ms of the client's CPU besides its bytes (a ``BlobClient`` and its generated client
per blob, ~40 response headers deserialized into a model, requests reading proxy settings
from the environment at every call). A plain GET through requests costs ~0.4 ms. On a
pull of many small files, that CPU is what the pull waits for (``bench/transfers.py``,
Azure 100 × 1 MB: the SDK's own call, unchecked, was 1.4× quicker than mlx's checked pull).

What is the SDK's all the same:
- the URL: ``ContainerClient.url`` (with the container's SAS when it has one), the blob's
  name quoted as azure-storage-blob quotes it (``quote(name, safe="~/")``);
- the authorization: the container's SAS; for an account key, a read-only container SAS
  signed here with that key by the SDK's own ``generate_container_sas`` (no request);
- ``x-ms-version``: the client's ``api_version`` ("Required for all authorized requests",
  https://learn.microsoft.com/rest/api/storageservices/get-blob);
- the SDK's connection and read timeouts (``azure.storage.blob._shared.constants``: 20 s,
  60 s); proxies and CA bundles from the environment (requests' ``trust_env``), read once
  per host rather than at every request.

What is left to the SDK: everything but a 200 whose body arrives whole. A refusal, a blob
that is gone, a throttled or failed request, a connection dropped mid-body: ``fetch`` says
so (False) and the caller downloads the blob again through the SDK, which retries under
mlx's policy and names any error as before. After a 401 or 403 this container's GETs all
go through the SDK. A token credential (Entra ID) goes through the SDK from the start:
its token handling is the SDK's.

The body is written as stored (``decode_content=False``): its size and Content-MD5 are
those of the stored bytes, which ``mlx.transfer`` checks.
"""

from __future__ import annotations

import threading
import time
from typing import IO, Any, Callable, Optional
from urllib.parse import quote, urlsplit

# azure.storage.blob._shared.constants: CONNECTION_TIMEOUT, READ_TIMEOUT
TIMEOUTS = (20, 60)
# A SAS signed here lives an hour and is signed again after half of it: a pull may run
# longer than one, and a GET never carries a SAS close to its end.
SAS_LIFETIME = 3600.0
SAS_RENEW_AFTER = SAS_LIFETIME / 2
CHUNK = 1 << 20


class BlobGets:
    """Plain GETs of whole blobs in ``container`` (a ``ContainerClient``)."""

    def __init__(self, container: Any) -> None:
        self.container = container
        base, _, query = container.url.partition("?")
        self._base, self._query = base, query
        credential = container.credential
        self._key = getattr(credential, "account_key", None)
        self._account = getattr(credential, "account_name", None)
        # A SAS (in the URL, no credential object) or none (a public container): the URL as
        # it is. An account key: a SAS signed with it. Anything else: the SDK.
        self.usable = credential is None or bool(self._key and self._account)
        self._lock = threading.Lock()
        self._signed: Optional[tuple[float, str]] = None
        self._session: Any = None

    def fetch(self, name: str, out: IO[bytes], feed: Callable[[bytes], None]) -> bool:
        """Write blob ``name`` to ``out`` (at its start), calling ``feed`` with each chunk
        as it is written; False, with ``out`` as it was left, when the SDK must do it."""
        import requests
        from urllib3.exceptions import HTTPError

        if not self.usable:
            return False
        url = f"{self._base}/{quote(name, safe='~/')}"
        query = self._sas()
        headers = {"x-ms-version": self.container.api_version}
        try:
            response = self._http().get(
                f"{url}?{query}" if query else url, headers=headers, stream=True, timeout=TIMEOUTS
            )
        except requests.RequestException:
            return False
        whole = False
        try:
            if response.status_code != 200:
                if response.status_code in (401, 403):
                    self.usable = False  # the SDK says why, and does the rest
                return False
            expected, got = response.headers.get("Content-Length"), 0
            for chunk in response.raw.stream(CHUNK, decode_content=False):
                out.write(chunk)
                feed(chunk)
                got += len(chunk)
            # urllib3 2 raises on a short body itself; urllib3 1 (requests allows it) does not.
            whole = expected is not None and got == int(expected)
            return whole
        except (requests.RequestException, HTTPError, ValueError):  # a broken body, a timeout
            return False
        finally:
            if whole:
                response.raw.release_conn()  # read to its end: the connection is reused
            else:
                response.close()

    def _sas(self) -> str:
        """The query that authorizes a GET: the container's SAS, or one signed here."""
        if not self._key:
            return self._query
        with self._lock:
            now = time.time()
            if self._signed is None or now - self._signed[0] > SAS_RENEW_AFTER:
                self._signed = (now, self._sign(now + SAS_LIFETIME))
            return self._signed[1]

    def _sign(self, expiry: float) -> str:
        from datetime import datetime, timezone

        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        return str(
            generate_container_sas(
                str(self._account),
                self.container.container_name,
                account_key=self._key,
                permission=ContainerSasPermissions(read=True),
                expiry=datetime.fromtimestamp(expiry, timezone.utc),
            )
        )

    def _http(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = environment_once_session(urlsplit(self._base).scheme)
            return self._session


def environment_once_session(scheme: str) -> Any:
    """A ``requests.Session`` that reads proxy and CA-bundle settings from the environment
    (``trust_env``, as azure-core's transport does) once per host, and keeps as many
    connections to a host as a transfer may use (``MLX_TRANSFER_CONCURRENCY`` at most 64),
    without requests' own retries: a failed GET goes to the SDK's."""
    import requests
    from requests.adapters import HTTPAdapter

    class EnvironmentOnce(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self._settings: dict[Any, dict[str, Any]] = {}

        def merge_environment_settings(
            self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
        ) -> dict[str, Any]:
            parts = urlsplit(url)
            key = (parts.scheme, parts.netloc, repr(proxies), stream, repr(verify), repr(cert))
            found = self._settings.get(key)
            if found is None:
                found = super().merge_environment_settings(url, proxies, stream, verify, cert)
                self._settings[key] = found
            return {**found, "proxies": dict(found["proxies"] or {})}

    session = EnvironmentOnce()
    session.mount(f"{scheme}://", HTTPAdapter(pool_maxsize=64, max_retries=0))
    return session
