"""The Vertex AI provider's descriptor (its credentials: credentials.py)."""

from __future__ import annotations

from mlx.cloud.pacing import Pacing
from mlx.providers import Capability, Machines, Provider

PROVIDER = Provider(
    name="vertex",
    title="Vertex AI",
    backend="mlx.backends.vertex.backend:VertexBackend",
    extra="vertex",
    sdk_modules=("google.cloud.aiplatform_v1", "google.cloud.storage", "google.cloud.logging_v2"),
    settings="mlx.backends.vertex.settings:VertexSettings",
    credentials="mlx.backends.vertex.credentials:find_credentials",
    login_hint="gcloud auth application-default login",
    rank=20,
    uri_schemes=("gs",),
    capabilities=frozenset({Capability.TUNING, Capability.ADOPT, Capability.NEEDS_IMAGE}),
    machines=Machines(
        catalog="mlx.catalog:data/vertex.csv",
        accelerator_type="mlx.backends.vertex.machines:accelerator_type",
    ),
    runtime_adapter="mlx.backends.vertex.in_job",
    runner="mlx.backends.vertex.runner:VertexRunner",
    # No call is made: any valid project and bucket names serve.
    rehearsal_settings=(("project", "mlx-rehearsal"), ("bucket", "mlx-rehearsal")),
    pacing=Pacing(
        poll=5.0,
        # Cloud Logging allows 60 entries.list requests a minute per project
        # (https://cloud.google.com/logging/quotas#api-limits): this machine's followers
        # share them (mlx.cloud.budget), each poll asking only what is newer than the
        # newest entry shown (logs.py); alone, a follower polls once a second (the quota
        # spaces the polls: log_poll is only the least wait after a read).
        log_poll=0.25,
        log_overlap=0.0,
        log_read_quota=60.0,
        log_quota_period=60.0,
        log_drain=5.0,
        retry_initial=1.0,
        retry_max=30.0,
        retry_total=120.0,
        create_attempts=4,
    ),
)
