"""The Azure ML provider's descriptor (its credentials: credentials.py)."""

from __future__ import annotations

from mlx.cloud.pacing import Pacing
from mlx.providers import Capability, Machines, Provider

PROVIDER = Provider(
    name="azure",
    title="Azure ML",
    backend="mlx.backends.azure.backend:AzureBackend",
    extra="azure",
    sdk_modules=("azure.ai.ml", "azure.storage.blob", "azure.identity"),
    settings="mlx.backends.azure.settings:AzureSettings",
    runner="mlx.backends.azure.runner:AzureRunner",
    # No call is made: any valid names serve.
    rehearsal_settings=(
        ("subscription_id", "00000000-0000-0000-0000-000000000000"),
        ("resource_group", "mlx-rehearsal"),
        ("workspace", "mlx-rehearsal"),
        ("compute", "mlx-rehearsal"),
    ),
    credentials="mlx.backends.azure.credentials:find_credentials",
    login_hint="az login",
    rank=30,
    uri_schemes=("azureml", "wasbs", "abfss"),
    capabilities=frozenset({Capability.TUNING, Capability.ADOPT, Capability.NEEDS_IMAGE}),
    machines=Machines(catalog="mlx.catalog:data/azure.csv"),
    runtime_adapter="mlx.backends.azure.in_job",
    pacing=Pacing(
        poll=5.0,  # job state (ARM GET jobs)
        # Log blob listings; each poll's calls (a listing, a ranged GET per grown rank)
        # come from a ceiling of 3,000 a minute (mlx.cloud.budget), so polls slow down as
        # more ranks grow: 64 ranks, a poll every 1.3 s. The account's target is 20,000
        # requests a second ("Scalability and performance targets for standard storage
        # accounts", https://learn.microsoft.com/azure/storage/common/scalability-targets-standard-account).
        log_poll=0.5,
        log_max_poll=2.0,  # an idle job's listings
        log_read_quota=3000.0,
        log_quota_period=60.0,
        # azure-core's exponential backoff (its own default is 0.8 s); Azure Storage's
        # first retry (azure-storage-blob waits 15 s by default) uses retry_initial too.
        retry_initial=0.8,
        retry_attempts=6,
        cancel_wait=10.0,
    ),
)
