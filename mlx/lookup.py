"""Finding a job: by id, unique prefix, ``provider:native-id`` (adopting a job mlx did
not launch, where the provider can), and a tuning job's trials."""

from __future__ import annotations

import re
import time

from mlx import providers
from mlx.errors import JobNotFound, MlxError
from mlx.ids import new_job_id
from mlx.model import JobRecord
from mlx.providers import Capability
from mlx.store import Store


def find_job(store: Store, ref: str) -> JobRecord:
    """A job by id, unique prefix or ``provider:native-id``; a native id the store does not
    know is looked up with its provider (``Backend.adopt``) and recorded."""
    try:
        return store.find(ref)
    except JobNotFound:
        provider, sep, native = ref.partition(":")
        if not sep or provider not in providers.names() or providers.runs_here(provider):
            raise
    if not providers.get(provider).can(Capability.ADOPT):
        raise JobNotFound(
            f"no job {ref} in the store",
            hint=f"The {provider} backend cannot look up jobs mlx did not launch.",
        )
    fields = providers.backend_for(provider).adopt(native)
    # The provider's own name for it may be longer (Vertex: a resource name for a number):
    # a job adopted before under that name is the same job.
    full = fields.get("native_id", native)
    if full != native:
        try:
            return store.find(f"{provider}:{full}")
        except JobNotFound:
            pass
    now = time.time()
    record = JobRecord(
        id=_adopted_id(store, provider, full.rsplit("/", 1)[-1]),
        provider=provider,
        updated_at=now,
        **{"created_at": now, "native_id": native, **fields},
    )
    store.insert(record)
    return store.get(record.id)


def _adopted_id(store: Store, provider: str, native: str) -> str:
    """A store id for an adopted job: its native id where that is a free, valid job id."""
    from mlx.ids import JOB_ID_RE

    candidate = re.sub(r"[^a-z0-9-]+", "-", native.lower()).strip("-")[:63].rstrip("-")
    if not JOB_ID_RE.match(candidate):
        return new_job_id(provider)
    try:
        store.get(candidate)
    except JobNotFound:
        return candidate
    return new_job_id(candidate[:56].rstrip("-"))


def find_trial(store: Store, parent: JobRecord, trial: str) -> JobRecord:
    """Trial ``trial`` (a number, or ``best``) of tuning job ``parent``."""
    if not parent.is_tuning:
        raise MlxError(
            f"{parent.id} is not a tuning job", hint="--trial applies to `mlx tune` jobs."
        )
    wanted = parent.info.get("best_trial") if trial == "best" else trial
    if wanted is None:
        from mlx.tuning.objective import why_no_best

        trials = store.list(parent_id=parent.id)
        raise MlxError(f"{parent.id} has no best trial yet", hint=why_no_best(parent, trials))
    for record in store.list(parent_id=parent.id):
        if str(record.info.get("trial")) == str(wanted):
            return record
    raise MlxError(
        f"{parent.id} has no trial {trial}", hint=f"`mlx status {parent.id}` lists them."
    )
