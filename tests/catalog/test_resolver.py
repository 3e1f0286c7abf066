"""The resolver: cheapest machine per provider, overrides, impossible requests, names."""

from __future__ import annotations

import pytest

from mlx.backends.vertex.machines import accelerator_type as vertex_accelerator_type
from mlx.catalog.accelerators import (
    normalize_accelerator,
    provider_accelerator_type,
)
from mlx.catalog.resolver import (
    UnsatisfiableResources,
    accelerator_types,
    allowed_counts,
    resolve,
)
from mlx.errors import SpecError
from mlx.units import AcceleratorRequest, parse_accelerator


def _resolve(provider: str, accelerator: str | None, **kwargs):
    kwargs.setdefault("cpus", None)
    kwargs.setdefault("memory_gb", None)
    return resolve(provider, accelerator=parse_accelerator(accelerator), **kwargs)


# provider, accelerator, instance type, accelerators per node, $/h, Vertex spelling
CHOICES = [
    ("sagemaker", "T4:1", "ml.g4dn.xlarge", 1, 0.736, None),
    ("sagemaker", "A100:1", "ml.p4d.24xlarge", 8, 37.688, None),
    ("sagemaker", "A100:8", "ml.p4d.24xlarge", 8, 37.688, None),
    ("sagemaker", "H100:8", "ml.p5.48xlarge", 8, 113.07, None),
    ("sagemaker", "L4:2", "ml.g6.12xlarge", 4, 5.752, None),
    ("vertex", "T4:1", "n1-standard-4", 1, 0.621, "NVIDIA_TESLA_T4"),
    ("vertex", "A100:1", "a2-highgpu-1g", 1, 4.2245, "NVIDIA_TESLA_A100"),
    ("vertex", "A100:8", "a2-highgpu-8g", 8, 33.7963, "NVIDIA_TESLA_A100"),
    ("vertex", "H100:8", "a3-highgpu-8g", 8, 101.2, "NVIDIA_H100_80GB"),
    ("vertex", "L4:2", "g2-standard-24", 2, 2.3, "NVIDIA_L4"),
    ("azure", "T4:1", "Standard_NC4as_T4_v3", 1, 0.526, None),
    ("azure", "A100:1", "Standard_NC24ads_A100_v4", 1, 3.673, None),
    ("azure", "A100:8", "Standard_ND96asr_v4", 8, 27.197, None),
    ("azure", "H100:8", "Standard_ND96isr_H100_v5", 8, 98.32, None),
]


@pytest.mark.parametrize(
    ("provider", "accelerator", "instance", "count", "price", "spelled"), CHOICES
)
def test_cheapest_type_per_provider(provider, accelerator, instance, count, price, spelled):
    chosen = _resolve(provider, accelerator)
    assert chosen.provider == provider
    assert chosen.instance_type == instance
    assert chosen.accelerator_count == count
    assert chosen.price_per_hour == pytest.approx(price)
    assert chosen.provider_accelerator_type == spelled
    assert chosen.in_catalog


@pytest.mark.parametrize(
    ("provider", "accelerator", "warning"),
    [
        (
            "sagemaker",
            "A100:1",
            "A100:1 on sagemaker only comes as 8 in ml.p4d.24xlarge; you pay for 8",
        ),
        ("sagemaker", "L4:2", "L4:2 on sagemaker only comes as 4 in ml.g6.12xlarge; you pay for 4"),
        (
            "azure",
            "A100:1",
            "A100:1 on azure uses the bigger A100-80GB:1 in Standard_NC24ads_A100_v4, "
            "the cheapest match; write A100-80GB to ask for it",
        ),
    ],
)
def test_over_provisioning_and_upgrades_warn(provider, accelerator, warning):
    assert _resolve(provider, accelerator).warnings == (warning,)


@pytest.mark.parametrize(
    ("provider", "accelerator"),
    [("sagemaker", "A100:8"), ("sagemaker", "T4:1"), ("vertex", "A100:1"), ("azure", "H100:8")],
)
def test_exact_matches_do_not_warn(provider, accelerator):
    assert _resolve(provider, accelerator).warnings == ()


def test_a100_stays_40gb_when_40gb_fits():
    chosen = _resolve("vertex", "A100:1")
    assert chosen.accelerator == "A100"
    assert _resolve("azure", "A100:1").accelerator == "A100-80GB"
    assert _resolve("vertex", "A100-80GB:1").instance_type == "a2-ultragpu-1g"


def test_cheaper_bigger_machine_says_a_smaller_count_exists():
    # g4dn.12xlarge (4 T4, 48 vCPUs) costs less than g4dn.16xlarge (1 T4, 64 vCPUs).
    chosen = _resolve("sagemaker", "T4:1", cpus=48)
    assert chosen.instance_type == "ml.g4dn.12xlarge"
    assert chosen.warnings == (
        "T4:1 on sagemaker: the cheapest match with these cpus and memory is "
        "ml.g4dn.12xlarge with 4; you pay for 4",
    )


def test_vertex_price_is_machine_plus_gpus():
    chosen = _resolve("vertex", "L4:2")
    # g2-standard-24 machine 1.012 + 2 × L4 0.644
    assert chosen.price_per_hour == pytest.approx(1.012 + 2 * 0.644)
    assert (chosen.vcpus, chosen.memory_gb) == (24, 96)


@pytest.mark.parametrize(
    ("provider", "instance", "price"),
    [
        ("sagemaker", "ml.m5.xlarge", 0.23),
        ("vertex", "e2-standard-4", 0.1541),
        ("azure", "Standard_D4s_v5", 0.192),
    ],
)
def test_cpu_only_request(provider, instance, price):
    chosen = _resolve(provider, None, cpus=4, memory_gb=16)
    assert chosen.instance_type == instance
    assert chosen.accelerator is None
    assert chosen.accelerator_count == 0
    assert chosen.price_per_hour == pytest.approx(price)
    assert chosen.warnings == ()


@pytest.mark.parametrize(
    ("provider", "instance"),
    [("sagemaker", "ml.m5.xlarge"), ("vertex", "e2-standard-4"), ("azure", "Standard_D4s_v5")],
)
def test_no_resources_gets_a_small_cpu_default(provider, instance):
    assert _resolve(provider, None).instance_type == instance


@pytest.mark.parametrize("provider", ["sagemaker", "vertex", "azure"])
@pytest.mark.parametrize(("cpus", "memory"), [(1, 1), (8, None), (None, 100), (32, 256)])
def test_cpu_only_requests_never_get_a_gpu(provider, cpus, memory):
    chosen = _resolve(provider, None, cpus=cpus, memory_gb=memory)
    assert chosen.accelerator is None
    assert chosen.vcpus >= (cpus or 0)
    assert chosen.memory_gb >= (memory or 0)


@pytest.mark.parametrize("accelerator", ["T4", "V100", "L4", "A100", "A100-80GB", "H100", "H200"])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 8, 16])
def test_vertex_counts_are_always_ones_the_family_allows(accelerator, count):
    # A100 may be served by its 80 GB variant; every other type only by itself.
    variants = ("A100", "A100-80GB") if accelerator == "A100" else (accelerator,)
    offered = {n for name in variants for n in allowed_counts("vertex", name)}
    request = AcceleratorRequest(accelerator, count)
    if count not in offered:
        with pytest.raises(UnsatisfiableResources):
            resolve("vertex", accelerator=request, cpus=None, memory_gb=None)
        return
    chosen = resolve("vertex", accelerator=request, cpus=None, memory_gb=None)
    assert chosen.accelerator_count == count
    assert count in allowed_counts("vertex", chosen.accelerator)


def test_vertex_family_counts():
    assert allowed_counts("vertex", "L4") == (1, 2, 4, 8)
    assert allowed_counts("vertex", "T4") == (1, 2, 4)
    assert allowed_counts("vertex", "V100") == (1, 2, 4, 8)
    assert allowed_counts("vertex", "A100") == (1, 2, 4, 8, 16)
    assert allowed_counts("vertex", "A100-80GB") == (1, 2, 4, 8)
    assert allowed_counts("vertex", "H200") == (8,)
    assert "L4" not in accelerator_types("azure")


# -- overrides -------------------------------------------------------------------------


def test_override_in_catalog_wins():
    chosen = _resolve("sagemaker", "A100:1", override="ml.p4de.24xlarge")
    assert chosen.instance_type == "ml.p4de.24xlarge"
    assert chosen.accelerator == "A100-80GB"
    assert chosen.price_per_hour == pytest.approx(47.11)
    assert not any("does not satisfy" in w for w in chosen.warnings)


def test_override_that_falls_short_warns():
    chosen = _resolve("sagemaker", "A100:1", override="ml.g5.xlarge")
    assert chosen.instance_type == "ml.g5.xlarge"
    assert chosen.price_per_hour == pytest.approx(1.408)
    assert chosen.warnings == (
        "resources.instance_type.sagemaker: ml.g5.xlarge does not satisfy resources: "
        "it has A10G:1, resources.accelerator asks for A100:1",
    )


def test_override_not_in_catalog_is_accepted_without_price():
    chosen = _resolve("sagemaker", "A100:8", override="ml.p6-b200.48xlarge")
    assert chosen.instance_type == "ml.p6-b200.48xlarge"
    assert chosen.price_per_hour is None
    assert chosen.spot_price_per_hour is None
    assert not chosen.in_catalog
    assert chosen.warnings == (
        "resources.instance_type.sagemaker: ml.p6-b200.48xlarge is not in mlx's catalog; "
        "its price is unknown and mlx cannot check it against resources",
    )


def test_unknown_vertex_override_keeps_the_requested_gpu():
    chosen = _resolve("vertex", "H200:8", override="a4-highgpu-8g")
    assert (chosen.accelerator, chosen.accelerator_count) == ("H200", 8)
    assert chosen.provider_accelerator_type == "NVIDIA_H200_141GB"
    assert "did you mean" in chosen.warnings[0]


def test_override_is_matched_case_insensitively():
    assert _resolve("azure", None, override="standard_d8s_v5").instance_type == "Standard_D8s_v5"


def test_sagemaker_override_without_ml_prefix_is_an_error():
    with pytest.raises(
        SpecError,
        match=r"'p4d.24xlarge' is not a SageMaker instance type.*"
        r"Did you mean ml.p4d.24xlarge\?",
    ):
        _resolve("sagemaker", None, override="p4d.24xlarge")


def test_vertex_n1_override_takes_the_requested_gpus():
    chosen = _resolve("vertex", "T4:2", override="n1-standard-8")
    assert (chosen.instance_type, chosen.accelerator_count) == ("n1-standard-8", 2)
    assert chosen.price_per_hour == pytest.approx(0.437 + 2 * 0.4025)
    assert chosen.warnings == ()


def test_vertex_n1_override_with_unlisted_gpu_count_keeps_the_count_and_warns():
    chosen = _resolve("vertex", "T4:1", override="n1-standard-96")
    assert chosen.accelerator_count == 1
    assert chosen.price_per_hour == pytest.approx(5.2442 + 0.4025)
    assert chosen.warnings == (
        "resources.instance_type.vertex: mlx's catalog does not list n1-standard-96 with T4:1 "
        "(it lists T4:4, V100:8 with it); vertex may reject the job",
    )


# -- impossible requests ---------------------------------------------------------------


def test_vertex_l4_3_lists_the_nearest_counts():
    with pytest.raises(UnsatisfiableResources) as caught:
        _resolve("vertex", "L4:3")
    assert str(caught.value) == (
        "resources.accelerator: L4:3 is not offered on vertex; "
        "nearest: L4:2 (g2-standard-24), L4:4 (g2-standard-48)"
    )
    assert "counts of 1, 2, 4, 8" in caught.value.hint
    assert isinstance(caught.value, SpecError)


def test_vertex_h200_1_points_at_the_only_size():
    with pytest.raises(UnsatisfiableResources, match=r"nearest: H200:8 \(a3-ultragpu-8g\)$"):
        _resolve("vertex", "H200:1")


def test_type_not_offered_suggests_the_nearest_type():
    with pytest.raises(UnsatisfiableResources) as caught:
        _resolve("azure", "L4:2")
    assert str(caught.value) == (
        "resources.accelerator: L4 is not offered on azure; "
        "nearest: A10:2 (Standard_NV72ads_A10_v5), T4:4 (Standard_NC64as_T4_v3)"
    )
    assert caught.value.hint.startswith("azure offers T4, V100, A10,")


def test_a10g_is_not_silently_an_a10():
    with pytest.raises(
        UnsatisfiableResources, match=r"A10G is not offered on azure; nearest: A10:1"
    ):
        _resolve("azure", "A10G:1")
    with pytest.raises(
        UnsatisfiableResources, match=r"A10G is not offered on vertex; nearest: L4:1"
    ):
        _resolve("vertex", "A10G:1")


def test_too_many_cpus_names_the_field_and_the_largest():
    with pytest.raises(UnsatisfiableResources) as caught:
        _resolve("sagemaker", None, cpus=500)
    assert str(caught.value) == (
        "resources.cpus: 500 cpus is not offered on sagemaker; "
        "largest: 96 vCPUs, 384 GB (ml.m5.24xlarge), 72 vCPUs, 144 GB (ml.c5.18xlarge)"
    )


def test_too_much_memory_for_a_gpu_names_the_memory_field():
    with pytest.raises(UnsatisfiableResources, match=r"^resources.memory: T4:1 with 1000 GB"):
        _resolve("azure", "T4:1", memory_gb=1000)


def test_vertex_suggests_another_count_that_brings_the_cpus():
    with pytest.raises(UnsatisfiableResources, match=r"other counts: T4:4 \(n1-highcpu-64"):
        _resolve("vertex", "T4:1", cpus=64)


# -- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("a100", "A100"),
        ("A100-80GB", "A100-80GB"),
        ("a100-80gb", "A100-80GB"),
        ("A100 80GB", "A100-80GB"),
        ("nvidia-tesla-a100", "A100"),
        ("NVIDIA_TESLA_A100", "A100"),
        ("NVIDIA_A100_80GB", "A100-80GB"),
        ("NVIDIA_TESLA_T4", "T4"),
        ("NVIDIA_L4", "L4"),
        ("NVIDIA_H100_80GB", "H100"),
        ("NVIDIA_H100_MEGA_80GB", "H100"),
        ("NVIDIA_H200_141GB", "H200"),
        ("NVIDIA_TESLA_V100", "V100"),
        ("H100-80G", "H100"),
        ("A100-SXM4-80GB", "A100-80GB"),
        ("a10g", "A10G"),
    ],
)
def test_accelerator_aliases(name, canonical):
    assert normalize_accelerator(name) == canonical


@pytest.mark.parametrize(
    ("name", "suggestion"), [("A1000", "A100"), ("H10", "H100"), ("T5", "T4"), ("L40", "L40S")]
)
def test_unknown_accelerator_names_suggest_the_closest(name, suggestion):
    with pytest.raises(
        ValueError, match=rf"unknown accelerator '{name}'; did you mean {suggestion}\?"
    ):
        parse_accelerator(f"{name}:1")


def test_unknown_accelerator_reaching_the_resolver_is_a_spec_error():
    with pytest.raises(SpecError, match=r"^resources.accelerator: unknown accelerator 'RTX9090'"):
        resolve("vertex", accelerator=AcceleratorRequest("RTX9090", 1), cpus=None, memory_gb=None)


def test_resolver_normalizes_a_hand_built_request():
    chosen = resolve(
        "vertex",
        accelerator=AcceleratorRequest("nvidia-tesla-t4", 1),
        cpus=None,
        memory_gb=None,
    )
    assert (chosen.accelerator, chosen.provider_accelerator_type) == ("T4", "NVIDIA_TESLA_T4")


@pytest.mark.parametrize(
    ("name", "enum"),
    [
        ("A100", "NVIDIA_TESLA_A100"),
        ("A100-80GB", "NVIDIA_A100_80GB"),
        ("H100", "NVIDIA_H100_80GB"),
        ("H200", "NVIDIA_H200_141GB"),
        ("L4", "NVIDIA_L4"),
        ("T4", "NVIDIA_TESLA_T4"),
        ("V100", "NVIDIA_TESLA_V100"),
        ("nvidia-tesla-t4", "NVIDIA_TESLA_T4"),
    ],
)
def test_vertex_accelerator_enum(name, enum):
    assert vertex_accelerator_type(name) == enum
    assert provider_accelerator_type("vertex", name) == enum
    assert provider_accelerator_type("sagemaker", name) is None
    assert provider_accelerator_type("azure", name) is None


def test_vertex_has_no_a10g():
    with pytest.raises(ValueError, match="vertex offers no A10G accelerator"):
        vertex_accelerator_type("A10G")


# -- providers -------------------------------------------------------------------------


def test_local_has_no_catalog_and_no_price():
    chosen = _resolve("local", "T4:1")
    assert (chosen.instance_type, chosen.accelerator, chosen.accelerator_count) == (
        "local",
        "T4",
        1,
    )
    assert chosen.price_per_hour is None


def test_unknown_provider():
    with pytest.raises(SpecError, match=r"unknown provider 'sagmaker'; did you mean sagemaker\?"):
        _resolve("sagmaker", None)


def test_catalog_notes_become_warnings():
    chosen = _resolve("azure", "V100:1")
    assert chosen.instance_type == "Standard_NC6s_v3"
    assert any("retired the NCv3 series" in w for w in chosen.warnings)
