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
    # Cloud Logging allows 60 reads a minute per project: followers poll every 5 s.
    runtime_adapter="mlx.backends.vertex.in_job",
    runner="mlx.backends.vertex.runner:VertexRunner",
    # No call is made: any valid project and bucket names serve.
    rehearsal_settings=(("project", "mlx-rehearsal"), ("bucket", "mlx-rehearsal")),
    pacing=Pacing(
        poll=5.0,
        log_poll=5.0,
        log_overlap=10.0,
        log_drain=5.0,
        retry_initial=1.0,
        retry_max=30.0,
        retry_total=120.0,
        create_attempts=4,
    ),
)
