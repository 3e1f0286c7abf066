"""The trial table: live while a tuning job runs, a summary at the end, JSON for scripts.

It reads only the job store (trials are child jobs), so it serves every provider.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mlx import lifecycle
from mlx.model import JobRecord, JobState
from mlx.output import record_json
from mlx.store import Store
from mlx.timefmt import length, run_time
from mlx.tuning import rows


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


def summary(
    store: Store, parent: JobRecord, records: Optional[list[JobRecord]] = None
) -> dict[str, Any]:
    """The stable ``tune --json`` / ``status --json`` shape of a tuning job (of ``records``,
    its trials as already read, when given)."""
    best_number = parent.info.get("best_trial")
    rows = []
    for record in trials(store, parent) if records is None else records:
        rows.append(
            {
                "number": record.info.get("trial"),
                "id": record.id,
                "params": record.info.get("params", {}),
                "state": trial_state(record),
                "message": record.message,  # why it failed (no objective: which one)
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


def table(store: Store, parent: JobRecord, height: Optional[int] = None, width: int = 80) -> Group:
    """The trial table, one line per trial at 80 columns: a progress line, short parameter
    names (their legend below), the latest metric of running trials, and, when ``height``
    lines cannot hold every trial, the running ones, the best and the latest, with a
    "… n more" line."""
    # One read of the trials: a trial that starts between two reads is in both or neither.
    records = trials(store, parent)
    data = summary(store, parent, records)
    metric = data["objective"].get("metric", "objective")
    best = (data["best"] or {}).get("number")
    short = rows.abbreviations(
        dict.fromkeys(k for r in records for k in (r.info.get("params") or {}))
    )
    note = rows.legend(short)
    # Fixed lines: progress, header, "more" line, Live's last newline, the legend's lines.
    legend_lines = -(-len(note) // max(width, 1)) if note else 0
    room = None if height is None else height - 4 - legend_lines
    shown, hidden = rows.pick(records, best, room)
    by_id = {row["id"]: row for row in data["trials"]}
    result = _frame(metric, any(r.message for r in shown))
    live = _live_metrics(parent, shown, metric)
    for record in shown:
        _add_row(result, record, by_id[record.id], short, live.get(record.id), best)
    parts: list[Any] = [progress_line(parent, records, data), result]
    if hidden:
        parts.append(Text(f"… {hidden} more trial(s): `mlx status {parent.id}` lists all"))
    if note:
        parts.append(Text(note, style="dim"))
    return Group(*parts)


def _frame(metric: str, notes: bool) -> Table:
    """The columns: every one on a single line; parameters and notes give way first."""
    result = Table(box=None, header_style="bold", pad_edge=False)
    result.add_column("#", justify="right", no_wrap=True)
    result.add_column("state", no_wrap=True)
    result.add_column(escape(metric), justify="right", no_wrap=True, overflow="ellipsis")
    result.add_column("time", justify="right", no_wrap=True)
    result.add_column("parameters", no_wrap=True, overflow="ellipsis", ratio=3)
    if notes:
        result.add_column("note", no_wrap=True, overflow="ellipsis", ratio=2)
    return result


def _add_row(
    result: Table,
    record: JobRecord,
    row: dict[str, Any],
    short: dict[str, str],
    latest: Optional[float],
    best: Optional[int],
) -> None:
    objective = row["objective"] if row["objective"] is not None else latest
    cells = [
        str(row["number"]),
        row["state"],
        "-" if objective is None else f"{objective:.6g}",
        length(run_time(record)),
        escape(rows.params_text(row["params"], short)),
    ]
    if len(result.columns) > 5:
        cells.append(escape(record.message or ""))
    result.add_row(*cells, style="bold green" if row["number"] == best else None)


def _live_metrics(
    parent: JobRecord, shown: list[JobRecord], metric: str
) -> dict[str, Optional[float]]:
    """The objective's latest value of each running trial, as its script printed it
    (``Backend.live_metrics``: read where that costs no call)."""
    running = [r for r in shown if not r.state.terminal]
    if not running:
        return {}
    backend = lifecycle.backend_for(parent)
    return {r.id: backend.live_metrics(r).get(metric) for r in running}


def progress_line(parent: JobRecord, records: list[JobRecord], data: dict[str, Any]) -> Text:
    """``<id> · running · 12/30 done · best 0.0123 (trial 7) · elapsed 3m 12s``."""
    total = int(parent.tune.get("max_trials") or len(records))
    done = sum(1 for r in records if r.state.terminal)
    parts = [parent.id, parent.state.value, f"{done}/{total} done"]
    best = data["best"]
    if best and best.get("objective") is not None:
        parts.append(f"best {best['objective']:.6g} (trial {best['number']})")
    parts.append(f"elapsed {length(run_time(parent))}")
    return Text(" · ".join(parts), style="bold", no_wrap=True, overflow="ellipsis")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def watch(store: Store, parent: JobRecord, console: Any) -> JobRecord:
    """Show the live table until the tuning job ends; Ctrl-C detaches. The table fits the
    terminal's height (Live crops what does not fit, and running trials were cropped)."""
    from rich.live import Live

    # A cloud tuning job costs calls per refresh (its trials are listed): the backend's pace.
    pacing = lifecycle.backend_for(parent).pacing
    pause = max(pacing.view_refresh, pacing.poll)

    def frame() -> Group:
        return table(store, parent, height=console.size.height, width=console.size.width)

    try:
        with Live(frame(), console=console, refresh_per_second=4, transient=False) as live:
            while not parent.state.terminal:
                time.sleep(pause)
                parent = lifecycle.refresh(parent, store)
                live.update(frame())
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
