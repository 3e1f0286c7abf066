"""A job's life, between the commands and the backends: launch, refresh, wait, follow,
cancel, pull, and the trials of provider-run tuning jobs.

It keeps the store consistent with what the providers say, whichever backend is behind a
job; it asks providers what they can do (``Capability``), never their names. Finding a
job by reference is ``mlx.lookup``; what is printed is the command layer's.
"""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

from mlx import providers
from mlx.backends.base import Backend
from mlx.catalog.budget import check_max_cost
from mlx.catalog.spent import launch_price
from mlx.errors import BackendError, Interrupted, MlxError
from mlx.ids import new_job_id
from mlx.model import JobKind, JobRecord, JobState, JobStatus, LogLine, LogQuery
from mlx.providers import Capability
from mlx.spec import JobSpec, check_for_provider
from mlx.store import Store
from mlx.submissions import (
    pause_for_tests,
    record_submission,
    record_submit_failure,
    runs_here,
    settle_submission,
    unsubmitted,
)
from mlx.timefmt import provider_times


def backend_for(record: JobRecord) -> Backend:
    if record.rehearsal:
        from mlx.runner.backend import rehearsal_backend

        return rehearsal_backend(record.provider)
    if record.engine:
        from mlx.tuning.engine_backend import engine_backend

        return engine_backend(record.provider)
    return providers.backend_for(record.provider)


def translate(spec: JobSpec, job_id: Optional[str] = None, tuning: bool = False) -> dict[str, Any]:
    """``{"provider", "kind", "request"}``: what ``train``/``tune`` would send; no call made."""
    check_for_provider(spec, spec.provider)
    check_max_cost(spec, tuning=tuning)
    warn_plain_credentials(spec)
    backend = providers.backend_for(spec.provider)
    job_id = job_id or new_job_id(spec.name)
    if not tuning:
        request = backend.render(spec, job_id)
        return {"provider": spec.provider, "kind": JobKind.TRAINING.value, "request": request}
    from mlx.tuning.engine import choose_engine

    backend, _ = tuning_engine(require_tune(spec), backend)  # says why, as `tune` does
    return {
        "provider": spec.provider,
        "kind": JobKind.TUNING.value,
        "engine": choose_engine(spec).engine,
        "request": backend.render_tuning(spec, job_id),
    }


def warn_plain_credentials(spec: JobSpec) -> None:
    from mlx.console import warn
    from mlx.secret_scan import credential_warnings

    for message in credential_warnings(spec.env):
        warn(message)


def require_tune(spec: JobSpec) -> JobSpec:
    if spec.tune is None:
        raise MlxError(
            f"{spec.source}: the spec has no `tune:` block",
            hint="Add `tune:` with an objective and parameters (see configs/tune-quickstart.yaml).",
        )
    return spec


def launch(
    spec: JobSpec,
    store: Store,
    *,
    kind: JobKind = JobKind.TRAINING,
    rehearse: bool = False,
    before_submit: Optional[Callable[[], None]] = None,
) -> JobRecord:
    """Record the job, then submit it; the store never loses a job the provider accepted.

    The row is written first (state ``pending``): if mlx dies before the provider answers,
    the job is still listed, and ``status`` resolves what became of it. ``rehearse``: run
    the exact cloud request on this machine with the platform's rules (``mlx.runner``).
    ``before_submit`` is called once the spec passed every check, before anything is sent
    (the command layer says what the job can cost then).
    """
    check_for_provider(spec, spec.provider)
    check_max_cost(spec, tuning=kind == JobKind.TUNING)
    warn_plain_credentials(spec)
    if kind == JobKind.TUNING:
        require_tune(spec)
    location: dict[str, Any] = {}
    backend: Backend = providers.backend_for(spec.provider)
    if rehearse:
        backend, location = rehearsing(spec)
    elif kind == JobKind.TUNING:
        backend, location = tuning_engine(spec, backend)
    backend.preflight(spec, kind)
    if before_submit is not None:
        before_submit()
    now = time.time()
    record = JobRecord(
        id=new_job_id(spec.name),
        provider=spec.provider,
        name=spec.name,
        kind=JobKind(kind),
        state=JobState.PENDING,
        spec=spec.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
        location=location,
        info={
            "base_dir": str(spec.base_dir),
            "source": spec.source,
            "submitter": {"pid": os.getpid(), "host": socket.gethostname()},
            **({"price": price} if (price := launch_price(spec)) else {}),  # for its cost
        },
    )
    store.insert(record)
    pause_for_tests("before-create")
    try:
        if kind == JobKind.TUNING:
            submission = backend.submit_tuning(require_tune(spec), record.id)
        else:
            submission = backend.submit(spec, record.id)
    except BaseException as e:
        shown = record_submit_failure(e, spec, record.id, store)
        if shown is e:
            raise
        raise shown from None  # the original's text (and its cause) held a secret
    pause_for_tests("after-create")
    return record_submission(record, submission, store)


def rehearsing(spec: JobSpec) -> tuple[Backend, dict[str, Any]]:
    """The rehearsal backend for ``spec``'s provider, and the mark its jobs carry."""
    from mlx.runner.backend import rehearsal_backend

    provider = providers.get(spec.provider)
    if provider.can(Capability.RUNS_HERE):
        raise MlxError(
            f"--rehearse runs a cloud job on this machine; {provider.name} jobs already run here",
            hint="Give a cloud provider: --provider sagemaker, vertex or azure.",
        )
    if not provider.runner:
        raise MlxError(f"{provider.title} has no platform runner: its jobs cannot be rehearsed")
    return rehearsal_backend(spec.provider), {"rehearsal": "pending"}


def tuning_engine(spec: JobSpec, backend: Backend) -> tuple[Backend, dict[str, Any]]:
    """The backend that runs ``spec``'s search on a cloud: the provider's own tuner, or
    mlx's engine (``tune.engine: mlx``: ``mlx.tuning.engine_backend``), and the mark its
    job carries. Says why when the engine was not the spec's own word."""
    if providers.runs_here(spec.provider):
        return backend, {}
    from mlx.tuning.engine import choose_engine

    choice = choose_engine(spec)
    if choice.reason:
        from mlx.console import info

        info(f"Note: {choice.reason}")
    if choice.engine != "mlx":
        return backend, {}
    from mlx.tuning.engine_backend import engine_backend

    return engine_backend(spec.provider), {"engine": "mlx"}


def resume_tuning(record: JobRecord, store: Store) -> JobRecord:
    """Continue a tuning job whose driver stopped; finished trials are kept."""
    if not record.is_tuning:
        raise MlxError(f"{record.id} is not a tuning job", hint="--resume takes a `mlx tune` id.")
    if not record.engine and not providers.get(record.provider).can(Capability.RESUME_TUNING):
        return record  # the provider runs the search; there is nothing to restart
    backend = backend_for(record)
    record = refresh(record, store)
    if record.state.terminal:
        store.update(record.id, state=JobState.RUNNING, message=None, ended_at=None)
        record = store.get(record.id)
    backend.resume_tuning(record)
    return record


def refresh(record: JobRecord, store: Store, status: Optional[JobStatus] = None) -> JobRecord:
    """Ask the provider for the job's state (unless ``status`` is known) and save what
    changed."""
    if record.state.terminal:
        return record
    if unsubmitted(record):
        record = settle_submission(record, store)
        if record.state.terminal or not record.native_id:
            return record
    status = status or backend_for(record).status(record)
    changes: dict[str, Any] = {}
    if status.state != record.state:
        changes["state"] = status.state
    if status.message != record.message and status.message is not None:
        changes["message"] = status.message
    if status.exit_code is not None and status.exit_code != record.exit_code:
        changes["exit_code"] = status.exit_code
    if status.metrics and status.metrics != record.metrics:
        changes["metrics"] = status.metrics
    changes.update(provider_times(record, status.started_at, status.ended_at, status.state))
    billed = status.billable_seconds  # the provider's billed time, for the job's cost
    if billed is not None and record.info.get("billable_seconds") != billed:
        info = changes.get("info", record.info)
        changes["info"] = {**info, "billable_seconds": billed}
    if changes:
        # Only while the job has not ended: another process (a supervisor, a `cancel`, the
        # mlx that waits) may have recorded its end since this one read it.
        store.update(record.id, unless_ended=True, **changes)
        record = store.get(record.id)
    if record.is_tuning:
        sync_trials(record, store)
        record = store.get(record.id)  # with the best trial sync_trials just recorded
    return record


def refresh_listed(records: list[JobRecord], store: Store) -> list[JobRecord]:
    """Fresh states for a listing: jobs that run here from their files, the others from
    one server-side list per provider where the backend has one (``Backend.list_states``)."""
    fresh: dict[str, JobStatus] = {}
    remote = [r for r in records if not runs_here(r)]
    for provider in {r.provider for r in remote}:
        group = [r for r in remote if r.provider == provider and not r.state.terminal]
        if not group:
            continue
        try:
            fresh.update(providers.backend_for(provider).list_states(group))
        except MlxError as e:  # offline, no credentials: list what the store knows
            from mlx.console import warn

            warn(f"{provider} jobs are shown as last seen: {e.message}")
    return [
        _refresh_or_keep(r, store, fresh.get(r.id))
        if runs_here(r) or r.id in fresh or unsubmitted(r)
        else r
        for r in records
    ]


def _refresh_or_keep(record: JobRecord, store: Store, status: Optional[JobStatus]) -> JobRecord:
    """``refresh``, or the record as stored when its provider cannot be asked now (settling
    an unsubmitted job needs a call): one unreachable provider must not fail the listing."""
    try:
        return refresh(record, store, status)
    except MlxError as e:
        from mlx.console import warn

        warn(f"{record.id} is shown as last seen: {e.message}")
        return record


def sync_trials(parent: JobRecord, store: Store) -> None:
    """Record a provider-run tuning job's trials as child jobs, and its best trial."""
    from mlx.ids import trial_id
    from mlx.tuning.objective import judged

    # A trial that succeeded without its objective is shown failed, with the reason.
    metric = parent.objective_metric
    statuses = [judged(t, metric) for t in backend_for(parent).list_trials(parent)]
    if not statuses:
        return
    known = {r.id: r for r in store.list(parent_id=parent.id)}
    for trial in statuses:
        job_id = trial_id(parent.id, trial.number)
        info = {
            "trial": trial.number,
            "params": trial.params,
            "objective": trial.objective,
            "pruned": trial.pruned,
            **({"started_at": trial.started_at} if trial.started_at else {}),
        }
        # The provider's end time, also for trials that ended while nobody watched.
        ended = trial.ended_at if trial.state.terminal else None
        if job_id not in known:
            now = time.time()
            store.insert(
                JobRecord(
                    id=job_id,
                    provider=parent.provider,
                    name=parent.name,
                    kind=JobKind.TRIAL,
                    parent_id=parent.id,
                    state=trial.state,
                    spec=parent.spec,
                    created_at=now,
                    updated_at=now,
                    native_id=trial.native_id,
                    location=parent.location,
                    message=trial.message,
                    info=info,
                    ended_at=ended,
                )
            )
        elif (known[job_id].state, known[job_id].info) != (trial.state, info):
            at: dict[str, Any] = {"ended_at": ended} if ended else {}
            store.update(job_id, state=trial.state, info=info, message=trial.message, **at)
    goal = parent.objective_goal
    scored = [t for t in statuses if t.objective is not None and t.state == JobState.SUCCEEDED]
    if scored:
        pick = min if goal == "minimize" else max
        best = pick(scored, key=lambda t: t.objective)  # type: ignore[arg-type, return-value]
        store.update(
            parent.id,
            info={
                **parent.info,
                "best_trial": best.number,
                "best_objective": best.objective,
                "best_params": best.params,
            },
        )


def stream_logs(record: JobRecord, query: LogQuery) -> Iterator[LogLine]:
    """The job's lines, filtered by ``query`` (backends push down what they can)."""
    # The command layer checked the pattern (``flags.compile_grep``).
    grep = re.compile(query.grep) if query.grep is not None else None
    for line in backend_for(record).logs(record, query):
        if grep is None or grep.search(line.text):
            yield line


def follow(
    record: JobRecord, store: Store, query: LogQuery, write: Callable[[LogLine], None]
) -> JobRecord:
    """Hand the job's lines to ``write`` until it ends; return its final record. Ctrl-C
    detaches."""
    try:
        for line in stream_logs(record, query):
            write(line)
        record = wait(record, store)
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped following {record.id}; the job keeps running",
            hint=f"Reattach with `mlx logs -f {record.id}`; stop it with `mlx cancel {record.id}`.",
        ) from None
    return record


def wait(record: JobRecord, store: Store, timeout: Optional[float] = None) -> JobRecord:
    """Poll until the job is terminal (or ``timeout`` seconds pass)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    record = refresh(record, store)
    while not record.state.terminal:
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(backend_for(record).pacing.poll)
        record = refresh(record, store)
    return record


def cancel(record: JobRecord, store: Store, wait_seconds: float = 15.0) -> JobRecord:
    """Ask the provider to stop the job and wait a little for it to stop."""
    record = refresh(record, store)
    if record.state.terminal:
        raise MlxError(f"job {record.id} already ended ({record.state.value}); nothing to cancel")
    store.update(record.id, state=JobState.CANCELLING, unless_ended=True)
    backend_for(record).cancel(record)
    record = wait(store.get(record.id), store, timeout=wait_seconds)
    if not record.state.terminal and runs_here(record):
        # The supervisor is gone or ignored SIGTERM: record the end ourselves.
        store.update(record.id, state=JobState.CANCELLED, unless_ended=True, message="cancelled")
        record = store.get(record.id)
        if record.is_tuning:  # no driver will end its trials either
            cancel_trials(store, record)
    return record


def cancel_trials(store: Store, parent: JobRecord) -> None:
    """Mark trials that no process will finish any more as cancelled."""
    for record in store.list(parent_id=parent.id):
        if not record.state.terminal:
            store.update(
                record.id, state=JobState.CANCELLED, unless_ended=True, message="cancelled"
            )


def pull(
    record: JobRecord,
    include: list[str],
    exclude: list[str],
    dest: Path,
    show_progress: bool = True,
) -> Any:
    from mlx import transfer

    require_submitted(record)
    backend = backend_for(record)
    batch = backend.pull_many(record, include, exclude, dest, show_progress)
    if batch is not None:
        return batch
    chosen = transfer.select(transfer.listing(backend, record, include), include, exclude)
    if not chosen:
        raise transfer.nothing_matches(record.id, include, exclude)

    def download(artifact: Any, target: Path, progress: Any) -> None:
        try:
            backend.download(record, artifact, target, progress)
        except OSError as e:
            raise BackendError(f"downloading {artifact.path} failed: {e}") from e

    return transfer.pull(
        chosen,
        dest,
        download,
        local_checksum=backend.local_checksum,
        show_progress=show_progress,
    )


def require_submitted(record: JobRecord) -> None:
    """A job the provider never accepted has no artifacts to list or pull."""
    never = not record.native_id and not runs_here(record)
    if never and not record.is_trial:
        reason = f" ({record.message})" if record.message else ""
        raise MlxError(
            f"job {record.id} was never submitted{reason}; it has no artifacts",
            hint=f"`mlx status {record.id}` shows what happened.",
        )


def list_artifacts(record: JobRecord, include: list[str], exclude: list[str]) -> list[Any]:
    from mlx import transfer

    require_submitted(record)
    listed = transfer.listing(backend_for(record), record, include)
    return transfer.select(listed, include, exclude)
