"""ClientCache: one client per key, made once even when threads ask at the same time."""

from __future__ import annotations

import threading
import time

import pytest

from mlx.cloud.clients import ClientCache, environment


def test_a_client_is_made_once_per_key() -> None:
    cache: ClientCache[object] = ClientCache()
    made: list[str] = []

    def factory(name: str) -> object:
        made.append(name)
        return object()

    first = cache.get(("us-east-1", None), lambda: factory("a"))
    assert cache.get(("us-east-1", None), lambda: factory("b")) is first
    assert cache.get(("eu-west-1", None), lambda: factory("c")) is not first
    assert made == ["a", "c"]


def test_threads_asking_at_once_share_one_client() -> None:
    cache: ClientCache[object] = ClientCache()
    made: list[int] = []
    got: list[object] = []

    def slow() -> object:
        made.append(1)
        time.sleep(0.05)
        return object()

    threads = [threading.Thread(target=lambda: got.append(cache.get("k", slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert len({id(client) for client in got}) == 1


def test_a_factory_that_fails_caches_nothing() -> None:
    cache: ClientCache[str] = ClientCache()

    def broken() -> str:
        raise RuntimeError("no credentials")

    with pytest.raises(RuntimeError):
        cache.get("k", broken)
    assert cache.get("k", lambda: "client") == "client"


def test_a_factory_may_ask_for_another_key() -> None:
    cache: ClientCache[str] = ClientCache()
    outer = cache.get("container", lambda: "container of " + cache.get("ml", lambda: "ml"))
    assert outer == "container of ml"


def test_the_environment_digest_follows_the_variables_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    before = environment("AWS_")
    monkeypatch.setenv("UNRELATED_SETTING", "x")
    assert environment("AWS_") == before
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    assert environment("AWS_") != before
    assert "127.0.0.1" not in environment("AWS_")


def test_sagemaker_clients_are_shared_per_settings_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlx.backends.sagemaker.backend import SageMakerBackend
    from mlx.backends.sagemaker.settings import SageMakerSettings

    backend = SageMakerBackend()
    settings = SageMakerSettings(region="us-east-1")
    first = backend.clients(settings)
    assert backend.clients(settings) is first
    assert backend.clients(settings, "eu-west-1") is not first
    other = SageMakerSettings(region="us-east-1", endpoints={"s3": "http://127.0.0.1:1"})
    assert backend.clients(other) is not first
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    assert backend.clients(settings) is not first
