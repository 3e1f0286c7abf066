"""Google Cloud Storage for tests: ``gcp-storage-emulator`` in-process, behind a FaultProxy.

``google.cloud.storage.Client`` reaches it through ``STORAGE_EMULATOR_HOST=<url>`` (then
it needs no credentials). The emulator keeps objects in memory; ``reset`` wipes them.
Requests go through ``proxy.FaultProxy`` so tests can record them and inject throttling,
5xx, slow answers and mid-body resets, named by the JSON API method (``objects.get``).

Gaps of the emulator (so mlx must not rely on them in tests, or must test them elsewhere):
no list pagination (``maxResults``/``pageToken`` are ignored: one page holds everything),
no generation/metageneration preconditions, no object versioning or retention, no IAM,
no signed URLs, no XML API.
"""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import parse_qs, unquote, urlsplit

from gcp_storage_emulator.server import create_server

from tests.emulators.faults import FaultPlan
from tests.emulators.proxy import FaultProxy, RecordedRequest

# (method, path regex, JSON API method name); the first match names the operation.
_OPERATIONS = [
    ("POST", r"/upload/storage/v1/b/[^/]+/o", "objects.insert"),
    ("PUT", r"/upload/storage/v1/b/[^/]+/o", "objects.insert"),  # resumable chunks
    ("GET", r"/download/storage/v1/b/[^/]+/o/.+", "objects.get"),
    ("GET", r"/storage/v1/b/[^/]+/o", "objects.list"),
    ("GET", r"/storage/v1/b/[^/]+/o/.+", "objects.get"),
    ("DELETE", r"/storage/v1/b/[^/]+/o/.+", "objects.delete"),
    ("PATCH", r"/storage/v1/b/[^/]+/o/.+", "objects.patch"),
    ("POST", r"/storage/v1/b/[^/]+/o/.+/compose", "objects.compose"),
    ("POST", r"/storage/v1/b/[^/]+/o/.+/(copyTo|rewriteTo)/.+", "objects.rewrite"),
    ("POST", r"/storage/v1/b", "buckets.insert"),
    ("GET", r"/storage/v1/b", "buckets.list"),
    ("GET", r"/storage/v1/b/[^/]+", "buckets.get"),
    ("DELETE", r"/storage/v1/b/[^/]+", "buckets.delete"),
]


def gcs_operation(method: str, path: str, headers: dict[str, str]) -> str:
    """The JSON API method a request calls (``objects.get``), else ``METHOD /path``."""
    url_path = unquote(urlsplit(path).path)
    for op_method, pattern, name in _OPERATIONS:
        if method == op_method and re.fullmatch(pattern, url_path):
            return name
    return f"{method} {url_path}"


class GcsEmulator:
    """The emulator on a free 127.0.0.1 port and a FaultProxy in front of it."""

    def __init__(self, plan: Optional[FaultPlan] = None) -> None:
        self.plan = plan or FaultPlan()
        # Port 0: the OS picks a free port; the emulator keeps its HTTPServer private.
        self._server = create_server("127.0.0.1", 0, in_memory=True)
        self.proxy: Optional[FaultProxy] = None

    @property
    def upstream_url(self) -> str:
        """The emulator itself, bypassing faults and recording."""
        host, port = self._server._api._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """What ``STORAGE_EMULATOR_HOST`` should hold: the proxy."""
        assert self.proxy is not None, "start() first"
        return self.proxy.url

    @property
    def requests(self) -> list[RecordedRequest]:
        assert self.proxy is not None, "start() first"
        return self.proxy.requests

    def start(self) -> GcsEmulator:
        self._server.start()
        self.proxy = FaultProxy(self.upstream_url, self.plan, operation=gcs_operation).start()
        return self

    def stop(self) -> None:
        if self.proxy:
            self.proxy.stop()
        self._server.stop()

    def reset(self) -> None:
        """Empty the store (buckets too), the request log and the fault plan."""
        self._server.wipe()
        self.plan.clear()
        if self.proxy:
            self.proxy.requests.clear()

    def operations(self, name: str) -> list[RecordedRequest]:
        """Recorded requests for one JSON API method, e.g. ``objects.list``."""
        return [r for r in self.requests if r.operation == name]


def query_of(request: RecordedRequest) -> dict[str, list[str]]:
    """A recorded request's query parameters, to assert on ``prefix``, ``alt`` and the like."""
    return parse_qs(urlsplit(request.path).query)
