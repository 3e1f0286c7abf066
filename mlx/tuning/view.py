"""The trial table: live while a tuning job runs, a summary at the end, JSON for scripts.

It reads only the job store (trials are child jobs), so it serves every provider.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from rich.markup import escape
from rich.table import Table

from mlx import lifecycle
from mlx.model import JobRecord, JobState
from mlx.output import record_json
from mlx.store import Store


def trial_state(record: JobRecord) -> str:
    """A trial's state in the table: a job state, or ``pruned``."""
    return "pruned" if record.info.get("pruned") else record.state.value


def trials(store: Store, parent: JobRecord) -> list[JobRecord]:
    found = store.list(parent_id=parent.id)
    return sorted(found, key=lambda r: int(r.info.get("trial", 0)))


def objective_of(trial: JobRecord, metric: Optional[str]) -> Optional[float]:
    """The trial's objective: what the tuner recorded, else (a trial that succeeded before
    its tuner took note) the metric's last value the trial itself recorded."""
    recorded = trial.info.get("objective")
    if recorded is None and metric and trial.state == JobState.SUCCEEDED:
        return trial.metrics.get(metric)
    return None if recorded is None else float(recorded)


def summary(store: Store, parent: JobRecord) -> dict[str, Any]:
    """The stable ``tune --json`` / ``status --json`` shape of a tuning job."""
    best_number = parent.info.get("best_trial")
    rows = []
    for record in trials(store, parent):
        rows.append(
            {
                "number": record.info.get("trial"),
                "id": record.id,
                "params": record.info.get("params", {}),
                "state": trial_state(record),
                "objective": objective_of(record, parent.objective_metric),
            }
        )
    best = None
    if best_number is not None:
        best = {
            "number": best_number,
            "params": parent.info.get("best_params", {}),
            "objective": parent.info.get("best_objective"),
        }
    objective = (parent.spec.get("tune") or {}).get("objective", {})
    return {**record_json(parent), "objective": objective, "trials": rows, "best": best}


def table(store: Store, parent: JobRecord) -> Table:
    data = summary(store, parent)
    metric = data["objective"].get("metric", "objective")
    result = Table(
        "trial",
        "parameters",
        "state",
        metric,
        "duration",
        box=None,
        header_style="bold",
        title=f"{parent.id} · {parent.state.value}",
        title_justify="left",
    )
    best = (data["best"] or {}).get("number")
    by_id = {r.id: r for r in trials(store, parent)}
    for row in data["trials"]:
        record = by_id[row["id"]]
        duration = (record.ended_at or time.time()) - record.created_at
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in row["params"].items())
        objective = "-" if row["objective"] is None else f"{row['objective']:.6g}"
        style = "bold green" if row["number"] == best else None
        result.add_row(
            str(row["number"]),
            escape(params),
            row["state"],
            objective,
            f"{duration:.1f}s",
            style=style,
        )
    return result


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def watch(store: Store, parent: JobRecord, console: Any) -> JobRecord:
    """Show the live table until the tuning job ends; Ctrl-C detaches."""
    from rich.live import Live

    # A cloud tuning job costs calls per refresh (its trials are listed): the backend's pace.
    pacing = lifecycle.backend_for(parent).pacing
    pause = max(pacing.view_refresh, pacing.poll)
    try:
        with Live(
            table(store, parent), console=console, refresh_per_second=4, transient=False
        ) as live:
            while not parent.state.terminal:
                time.sleep(pause)
                parent = lifecycle.refresh(parent, store)
                live.update(table(store, parent))
        if not console.is_terminal:
            console.print()  # Live leaves its last frame without a newline off a terminal
        return parent
    except KeyboardInterrupt:
        from mlx.errors import Interrupted

        raise Interrupted(
            f"stopped watching {parent.id}; the tuning job keeps running",
            hint=f"Reattach with `mlx tune --resume {parent.id}`; stop it with "
            f"`mlx cancel {parent.id}`.",
        ) from None


def best_line(store: Store, parent: JobRecord) -> Optional[str]:
    data = summary(store, parent)
    best = data["best"]
    if not best:
        return None
    params = ", ".join(f"{k}={_fmt(v)}" for k, v in best["params"].items())
    metric = data["objective"].get("metric", "objective")
    return f"Best trial #{best['number']}: {metric}={best['objective']:.6g} ({params})"
