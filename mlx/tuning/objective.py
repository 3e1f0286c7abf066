"""A trial without its objective: failed, with the reason, the same for every provider.

A trial whose script exits 0 but never reports the objective has nothing for the tuner:
Vertex marks it ``INFEASIBLE``, SageMaker and Azure leave it ``Completed`` with no
objective. mlx shows it failed, saying which metric never arrived and where the bootstrap
looked (``mlx.runtime.channels``), in the trial table, ``status``, ``--json`` and
``--trial best``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Optional

from mlx.model import JobRecord, JobState, TrialStatus

# Where the bootstrap collects metrics (mlx.runtime.channels).
CHANNELS = "stdout, stderr, the cloudml-hypertune file or MLflow"


def never_reported(metric: str) -> str:
    """The reason a trial without its objective failed."""
    return f"never reported {metric} (on {CHANNELS})"


def judged(trial: TrialStatus, metric: Optional[str]) -> TrialStatus:
    """``trial`` as mlx shows it: one that succeeded without the objective failed."""
    if trial.state != JobState.SUCCEEDED or trial.objective is not None or not metric:
        return trial
    return replace(trial, state=JobState.FAILED, message=never_reported(metric))


def no_trial_scored(metric: str, ran_to_the_end: int) -> str:
    """The tuning job's message when no trial gave the tuner a value."""
    if ran_to_the_end:
        many = "trial" if ran_to_the_end == 1 else "trials"
        return f"no trial reported {metric} ({ran_to_the_end} {many} ran to the end without it)"
    return "no trial succeeded"


def why_no_best(parent: JobRecord, trials: Sequence[JobRecord]) -> str:
    """Why a tuning job has no best trial: for ``--trial best``."""
    metric = parent.objective_metric or "the objective"
    ended = [t for t in trials if t.state.terminal]
    if not ended:
        return "No trial has finished yet." if trials else "No trial has started yet."
    reasons = sorted({t.message for t in ended if t.message})
    shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
    return f"{len(ended)} trial(s) ended without {metric}" + (f": {shown}" if shown else ".")


def failure_lines(rows: Sequence[dict]) -> list[str]:
    """``Trials 0, 2 failed: <reason>``, one line per reason, from ``view.summary`` rows."""
    by_reason: dict[str, list[str]] = {}
    for row in rows:
        if row.get("state") == JobState.FAILED.value and row.get("message"):
            by_reason.setdefault(row["message"], []).append(str(row.get("number")))
    lines = []
    for reason, numbers in list(by_reason.items())[:SHOWN]:
        which = "Trial " if len(numbers) == 1 else "Trials "
        shown = ", ".join(numbers[:SHOWN]) + (", ..." if len(numbers) > SHOWN else "")
        lines.append(f"{which}{shown} failed: {reason}")
    return lines


SHOWN = 5  # reasons, and trial numbers per reason: a 500-trial job stays readable
