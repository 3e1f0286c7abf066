"""Which runs ``mlx tensorboard`` shows, and where each run's event files are.

One run per job, and one per trial of a tuning job. A run's folder in the cache is named
so that runs of different jobs, on different clouds, sit side by side in one TensorBoard:
the job id, and for a trial ``<tuning job id>/trial-<n>_<param>=<value>...``.

A run's files are read from the places its backend names (``Backend.tensorboard_places``:
where the folder the in-job contract gives the script as ``MLX_TENSORBOARD_DIR`` lands,
``<output>/tensorboard/``, or the upload of SageMaker's TensorBoardOutputConfig; Vertex's
own ``AIP_TENSORBOARD_LOG_DIR`` too), or from ``--prefix`` for a job mlx did not launch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from mlx.cloud.objects import ObjectStore
from mlx.errors import MlxError
from mlx.model import JobKind, JobRecord

_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


@dataclass
class Run:
    """One TensorBoard run: ``name`` (its folder in the cache) and where its files are."""

    name: str
    record: JobRecord
    places: list[tuple[ObjectStore, str]]


def trial_run_name(parent_id: str, record: JobRecord) -> str:
    """``<tuning id>/trial-3_lr=0.01_layers=2``: the trial's number and values, made safe
    as one folder name."""
    number = record.info.get("trial")
    label = f"trial-{number}" if number is not None else record.id
    params = record.info.get("params") or {}
    parts = [label] + [f"{k}={_value(v)}" for k, v in sorted(params.items())]
    return f"{parent_id}/{_UNSAFE.sub('-', '_'.join(parts))[:200]}"


def _value(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def with_prefix(uri: str) -> str:
    """``uri`` as a prefix: one trailing slash."""
    return uri.rstrip("/") + "/"


def runs_of(record: JobRecord, trials: list[JobRecord], prefix: Optional[str]) -> list[Run]:
    """The runs of ``record``: itself, or each of its trials for a tuning job."""
    from mlx.lifecycle import backend_for

    backend = backend_for(record)
    if prefix is not None:
        store, key = backend.store_at(record, with_prefix(prefix))
        return [Run(record.id, record, [(store, key)])]
    if record.kind == JobKind.TUNING:
        return [
            Run(trial_run_name(record.id, t), t, backend_for(t).tensorboard_places(t))
            for t in sorted(trials, key=lambda t: int(t.info.get("trial") or 0))
        ]
    places = backend.tensorboard_places(record)
    if not places:
        raise MlxError(
            f"mlx does not know where {record.id} ({record.provider}) writes TensorBoard files",
            hint=f"Name the folder: `mlx tensorboard {record.id} --prefix <uri>`.",
        )
    return [Run(record.id, record, places)]
