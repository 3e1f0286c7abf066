"""The local provider's descriptor: jobs run on this machine, no SDK, no credentials."""

from mlx.cloud.pacing import Pacing
from mlx.providers import Capability, Provider

PROVIDER = Provider(
    name="local",
    title="this machine",
    backend="mlx.backends.local.backend:LocalBackend",
    settings="mlx.backends.local.settings:LocalSettings",
    rank=0,
    capabilities=frozenset({Capability.RUNS_HERE, Capability.TUNING, Capability.RESUME_TUNING}),
    # Job state is read from files: polling them is cheap.
    pacing=Pacing(poll=0.2, view_refresh=0.5),
)
