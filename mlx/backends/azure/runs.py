"""Run history: a run's status and error, and a sweep's trials (child runs).

Job state comes from ARM (``jobs.get``); the failure message and the child runs of a sweep
live in run history, which azure-ai-ml reaches through ``jobs._runs_operations``. Its
children listing drops ``nextLink`` (azure-ai-ml 1.35 deserializes the page with a model
that has no such field), so ``children`` follows the links itself: 500 trials are ordinary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Optional

from mlx.backends.azure.clients import azure_errors
from mlx.backends.azure.states import run_error, state_of, status_message
from mlx.model import TrialStatus

_RUN_HISTORY = (
    "/history/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/"
    "Microsoft.MachineLearningServices/workspaces/{ws}/runs/{run}/children"
)


def run_details(ml: Any, run_id: str) -> Any:
    with azure_errors(f"run details of {run_id}"):
        return ml.jobs._runs_operations.get_run_details(run_id)


def error_of(ml: Any, run_id: str) -> Optional[str]:
    return run_error(run_details(ml, run_id))


def children(ml: Any, run_id: str) -> Iterator[dict[str, Any]]:
    """Every child run of ``run_id`` as run-history JSON, page after page."""
    from azure.core.rest import HttpRequest

    runs = ml.jobs._runs_operations
    client, scope = runs._operation._client, runs._operation_scope
    path = _RUN_HISTORY.format(
        sub=scope.subscription_id, rg=scope.resource_group_name, ws=runs._workspace_name, run=run_id
    )
    request: Optional[HttpRequest] = HttpRequest(
        "GET", client.format_url(path), params={"api-version": "v1.0"}
    )
    while request is not None:
        with azure_errors(f"listing the trials of {run_id}"):
            response = client.send_request(request)
            response.raise_for_status()
        page = response.json()
        yield from page.get("value") or []
        link = page.get("nextLink")
        request = HttpRequest("GET", link) if link else None


def trial_number(sweep: str, run_id: str) -> Optional[int]:
    """Trials are ``<sweep>_<n>``; other children (``_preparation``...) are not trials."""
    match = re.fullmatch(re.escape(sweep) + r"_(\d+)", run_id)
    return int(match.group(1)) if match else None


def chosen_values(run: dict[str, Any]) -> dict[str, Any]:
    """The values the sweep gave a trial, by Azure key: HyperDrive records them as JSON in
    the child run's ``hyperparameters`` tag (or property)."""
    for where in ("tags", "properties"):
        text = (run.get(where) or {}).get("hyperparameters")
        if text:
            try:
                values = json.loads(text)
            except ValueError:
                continue
            return {str(k).lstrip("-"): v for k, v in values.items()}
    return {}


def objective_of(run: dict[str, Any], metric: str) -> Optional[float]:
    """The trial's objective where the service records it on the run: the metric's own
    name, or ``best_primary_metric``, in its tags or properties."""
    for where in ("tags", "properties"):
        values = run.get(where) or {}
        for key in (metric, "best_primary_metric"):
            try:
                return float(values[key])
            except (KeyError, TypeError, ValueError):
                continue
    return None


def trial_status(number: int, run: dict[str, Any], params: dict, objective: Any) -> TrialStatus:
    """A child run as a trial; its states are the job states (``states``), so a trial
    that is ``NotResponding`` is still running, not failed."""
    error = ((run.get("error") or {}).get("error") or {}).get("message")
    return TrialStatus(
        number=number,
        native_id=run["runId"],
        state=state_of(run.get("status")),
        params=params,
        objective=objective,
        message=status_message(run.get("status"), error),
        started_at=_epoch(run.get("startTimeUtc")),
        ended_at=_epoch(run.get("endTimeUtc")),
    )


def _epoch(text: Any) -> Optional[float]:
    """Run history's ISO-8601 UTC times (``2026-11-28T12:00:00.123Z``) as epoch seconds."""
    from datetime import datetime, timezone

    if not isinstance(text, str) or not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # more than six fraction digits (Python < 3.11)
        when = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00"))
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
