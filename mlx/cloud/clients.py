"""SDK clients cached by the settings that select them.

A backend lives once per process (``mlx.providers.backend_for``) and keeps its clients in a
``ClientCache``, so a command's calls, the tuner's threads and parallel downloads share
connections. The key of a client must hold everything that selects its endpoint or its
credential: the spec's settings (region, profile, endpoints, workspace...), the retry
settings the client was built with, and the environment variables the SDK reads
(``environment``), so that changing any of them makes a new client rather than reusing
one pointed elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Hashable
from typing import Callable, Generic, TypeVar

V = TypeVar("V")


class ClientCache(Generic[V]):
    """Values made once per key, thread-safe; a factory that raises stores nothing."""

    def __init__(self) -> None:
        self._values: dict[Hashable, V] = {}
        self._making: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, factory: Callable[[], V]) -> V:
        """The value for ``key``, made by ``factory`` on first use.

        One lock per key: a slow factory (one that calls the service) holds up only the
        callers that want the same client, and a factory may ask for another key.
        """
        with self._lock:
            if key in self._values:
                return self._values[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._values:  # made while this caller waited
                    return self._values[key]
            value = factory()
            with self._lock:
                self._values[key] = value
                self._making.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def environment(*prefixes: str) -> str:
    """A digest of the environment variables whose names start with one of ``prefixes``.

    For a cache key: it changes when an endpoint or credential variable that an SDK reads
    itself changes (``AWS_ENDPOINT_URL``, ``AZURE_CLIENT_ID``...), and it keeps no secret.
    """
    found = sorted((k, v) for k, v in os.environ.items() if k.startswith(prefixes))
    return hashlib.sha256(json.dumps(found).encode()).hexdigest()
