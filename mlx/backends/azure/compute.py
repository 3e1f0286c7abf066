"""The compute cluster a job runs on, and what ``resources`` cannot change about it.

An Azure ML job runs on the cluster ``azure.compute`` names, on that cluster's VM size and
at that cluster's priority:

- Low priority is a property of the cluster: AmlCompute's ``vmPriority``, ``Dedicated`` or
  ``LowPriority`` (azure-ai-ml 1.35.2 ``_restclient/arm_ml_service/models/_enums.py``
  ``VmPriority``; the entity's ``AmlCompute.tier``). "Jobs consume low priority VMs by
  running on Azure Machine Learning compute clusters created with low priority VMs ...
  Per-job configuration is not possible"
  (https://learn.microsoft.com/azure/machine-learning/how-to-use-low-priority-batch).
  A job cannot ask for it: ``resources.spot`` only describes the cluster mlx expects.
- A command job has no disk setting: its ``resources`` are instance_count, instance_type,
  shm_size, docker_args, max_instance_count, locations and properties (azure-ai-ml
  ``_schema/job_resource_configuration.py``); the job gets its VM size's disks.

``translate`` makes no call, so it says what it cannot know; ``submit`` reads the cluster
(one GET, which it makes anyway) and says what the job will really get.
"""

from __future__ import annotations

from typing import Any, Optional

from mlx.spec import JobSpec

LOW_PRIORITY = "low_priority"  # AmlCompute.tier of a LowPriority cluster (camel_to_snake)


def translate_warnings(spec: JobSpec, compute: str) -> list[str]:
    """What ``translate`` (no call made) must say about ``resources`` on cluster ``compute``:
    its price line is the catalog's, spot when ``resources.spot`` asks for it."""
    found = []
    if spec.resources.spot:
        found.append(
            f"resources.spot: Azure ML sets low priority per compute cluster, not per job: "
            f"the job runs at {compute}'s priority, and the spot price shown holds only if "
            f"{compute} is a low-priority cluster (`mlx train` reads the cluster and says)"
        )
    if spec.resources.disk is not None:
        found.append(_disk_warning(spec, None))
    return found


def cluster_warnings(spec: JobSpec, name: str, cluster: Any) -> list[str]:
    """What the job really gets on ``cluster`` (an azure-ai-ml ``Compute``) that
    ``resources`` asked for otherwise."""
    size = getattr(cluster, "size", None)
    low_priority = getattr(cluster, "tier", None) == LOW_PRIORITY
    found = []
    if spec.resources.spot and not low_priority:
        found.append(
            f"resources.spot: compute {name} is not a low-priority cluster, and Azure ML sets "
            f"low priority per cluster, not per job: this job runs, and is billed, at the "
            f"dedicated price{_price(size)}; name a low-priority cluster in `azure.compute` "
            f"to run on spare capacity"
        )
    if low_priority and not spec.resources.spot:
        found.append(
            f"compute {name} is a low-priority cluster: Azure may preempt this job, though "
            f"resources.spot is not set"
        )
    if spec.resources.disk is not None:
        found.append(_disk_warning(spec, size))
    return found


def _disk_warning(spec: JobSpec, size: Optional[str]) -> str:
    vm = f" ({size})" if size else ""
    return (
        f"resources.disk ({spec.resources.disk_gb:g} GB) is not applied: an Azure ML job gets "
        f"the disks of its cluster's VM size{vm}; a job cannot size them"
    )


def _price(size: Optional[str]) -> str:
    """`` (Standard_NC6s_v3: $3.06/h per node, eastus reference prices of <date>)``."""
    if not size:
        return ""
    from mlx.catalog.resolver import resolve
    from mlx.catalog.tables import load_catalog
    from mlx.errors import SpecError

    try:
        row = resolve("azure", accelerator=None, cpus=None, memory_gb=None, override=size)
    except SpecError:
        row = None
    if row is None or row.price_per_hour is None:
        return f" (mlx's catalog has no price for {size})"
    catalog = load_catalog("azure")
    return (
        f" ({size}: ${row.price_per_hour:,.2f}/h per node, {catalog.region} reference "
        f"prices of {catalog.date})"
    )
