"""The registry: what it reads from the entry points, and what it answers."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from mlx import providers
from mlx.errors import MlxError
from mlx.providers import Capability


def test_the_fast_entry_point_scan_finds_what_importlib_metadata_finds() -> None:
    expected = {(e.name, e.value) for e in entry_points(group=providers.ENTRY_POINT_GROUP)}
    assert set(providers.declared_entry_points()) == expected
    assert {"local", "sagemaker", "vertex", "azure"} <= {name for name, _ in expected}


def test_providers_are_listed_by_rank_and_the_default_runs_here() -> None:
    assert providers.names()[:4] == ["local", "sagemaker", "vertex", "azure"]
    assert providers.default_name() == "local"
    assert [p.name for p in providers.with_capability(Capability.RUNS_HERE)] == ["local"]
    assert providers.get("sagemaker").can(Capability.ADOPT)
    assert not providers.get("vertex").can(Capability.RUNS_HERE)


def test_an_unknown_provider_names_the_closest() -> None:
    with pytest.raises(MlxError, match=r"unknown provider 'sagmaker'; did you mean 'sagemaker'\?"):
        providers.get("sagmaker")


def test_a_missing_sdk_names_the_module_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from mlx.errors import BackendUnavailable

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("google.cloud") else real(name, *a),
    )
    with pytest.raises(BackendUnavailable) as raised:
        providers.backend_for("vertex")
    assert raised.value.message == (
        "the vertex backend needs google.cloud.aiplatform_v1, which is not installed"
    )
    assert raised.value.hint == "pip install 'mlx-jobs[vertex]'"


def test_an_unknown_provider_flag_is_a_usage_error(mlx, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "job.yaml"
    spec.write_text("name: t\ncommand: python x.py\n")
    for args in (("translate", spec, "-p", "aws"), ("jobs", "-p", "aws")):
        result = mlx(*args)
        assert result.exit_code == 2, result.stderr
        assert result.stderr == (
            "Error: --provider: unknown provider 'aws'\n"
            "Hint: Use one of: local, sagemaker, vertex, azure.\n"
        )
