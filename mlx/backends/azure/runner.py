"""The Azure ML platform runner (``Provider.runner``): runs a command job (``command``) or a
sweep job (``runner_sweep``) the way Azure ML runs it, on this machine (``mlx.runner``)."""

from __future__ import annotations

from typing import Any

from mlx.backends.azure.command import Ran, run_command, state_of
from mlx.backends.azure.runner_sweep import run_sweep
from mlx.backends.azure.tracking import Tracking
from mlx.runner.host import Host, Outcome


class AzureRunner:
    """``mlx.runner.host.PlatformRunner`` for Azure ML."""

    def run_training(self, request: dict[str, Any], host: Host) -> Outcome:
        name = str(request["name"])
        host.event("running", {"name": name, "status": "Running"})
        with Tracking() as tracking:
            ran = run_command(request, host, tracking, name)
        host.event("ended", {"name": name, "status": ran.status, "error": ran.error})
        return outcome_of(ran)

    def run_tuning(self, request: dict[str, Any], host: Host) -> Outcome:
        return run_sweep(request, host)


def outcome_of(ran: Ran) -> Outcome:
    default = ran.outputs.get("model", "")
    artifacts = default[: -len("model/")] if default.endswith("/model/") else None
    return Outcome(
        state_of(ran.status), ran.error, ran.exit_codes, ran.metrics, artifacts_uri=artifacts
    )
