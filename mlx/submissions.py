"""Around the create call: what mlx records when a submission succeeds, fails or is cut
short by a killed mlx, so the store never loses a job the provider accepted and never
keeps a secret.

``lifecycle.launch`` writes a job's row before the create call, with the submitting process
(``info.submitter``). A row that never got the provider's id is *unsubmitted*; once its
submitter is gone, ``settle_submission`` asks the backend for a job with the mlx id
(``Backend.find_by_mlx_id``: by name on SageMaker and Azure, by label on Vertex) and records
it, or marks the job failed. A submit that gave up not knowing whether its create arrived
(``OutcomeUnknown``) leaves the job pending the same way, to be settled by the next look.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import replace
from typing import Any

from mlx import providers
from mlx.errors import BackendError, MlxError, OutcomeUnknown, SpecError
from mlx.model import JobRecord, JobState, Submission
from mlx.processes import alive
from mlx.spec import JobSpec
from mlx.store import Store

# Seconds after which a job whose submitter runs on another host, and never recorded the
# provider's id, is settled (uploads of large inputs happen before the create call).
SUBMIT_TIMEOUT = 6 * 3600.0


def record_submission(record: JobRecord, submission: Submission, store: Store) -> JobRecord:
    """Save what the provider said when it accepted ``record``'s job."""
    changes: dict[str, Any] = {
        "native_id": submission.native_id,
        "artifacts_uri": submission.artifacts_uri,
        "location": submission.location,
        "info": {**record.info, **submission.info},
    }
    store.update(record.id, **changes)
    return replace(record, **changes)


def record_submit_failure(
    error: BaseException, spec: JobSpec, job_id: str, store: Store
) -> BaseException:
    """Record why submitting ``job_id`` failed; return the error to show (secrets masked)."""
    if isinstance(error, SpecError):
        # A spec a provider refuses before any call (an https:// input on SageMaker, a
        # missing bucket): nothing was started, so nothing is listed.
        store.delete(job_id)
        return _masked(error, spec)
    if isinstance(error, OutcomeUnknown):
        # The create may have reached the provider: keep the job pending, marked as no
        # longer being submitted, so the next `status`, `jobs` or `cancel` settles it.
        info = {**store.get(job_id).info, "submitter": {"ended": True}}
        store.update(job_id, message=error.message, info=info)
        return _masked(error, spec)
    if not isinstance(error, Exception):
        # Ctrl-C: the create may have reached the provider. The next `status` or `jobs`
        # settles a cloud job (settle_submission); a local one has nothing to find.
        if providers.runs_here(spec.provider):
            store.update(job_id, state=JobState.FAILED, message="interrupted while submitting")
        return error
    masked = _masked(error, spec)
    message = masked.message if isinstance(masked, MlxError) else f"submit failed: {error}"
    store.update(job_id, state=JobState.FAILED, message=message)
    return masked


def _masked(error: Exception, spec: JobSpec) -> Exception:
    """``error``, or a copy without the values of ``spec``'s secrets where it showed one."""
    from mlx.backends.common import mask_secret_values

    if isinstance(error, MlxError):
        message = mask_secret_values(error.message, spec)
        hint = mask_secret_values(error.hint, spec) if error.hint else error.hint
        if (message, hint) == (error.message, error.hint):
            return error
        return type(error)(message, hint=hint)
    text = mask_secret_values(str(error), spec)
    return error if text == str(error) else BackendError(f"submit failed: {text}")


def pause_for_tests(point: str) -> None:
    """Hold mlx at ``point`` when ``MLX_TEST_PAUSE_AT`` names it, so the kill -9 tests
    (tests/reliability/test_safety.py) can stop it exactly there. Never set otherwise."""
    if os.environ.get("MLX_TEST_PAUSE_AT") == point:
        sys.stderr.write(f"mlx: paused at {point}\n")
        sys.stderr.flush()
        time.sleep(600)


def runs_here(record: JobRecord) -> bool:
    """Whether the job runs on this machine: a local job, a rehearsal of a cloud's, or the
    search of a cloud tuning job that mlx's engine drives from here (not its trials)."""
    if record.engine is not None and not record.is_trial:
        return True
    return providers.runs_here(record.provider) or record.rehearsal is not None


def unsubmitted(record: JobRecord) -> bool:
    """A cloud job whose native id mlx never recorded: its submitting mlx may still be at
    work, or may have died before or after the provider accepted the create."""
    return not runs_here(record) and not record.is_trial and not record.native_id


def settle_submission(record: JobRecord, store: Store) -> JobRecord:
    """Settle an unsubmitted job once its submitting mlx is gone: record the provider's job
    if the create reached it (``Backend.find_by_mlx_id``), else mark the job failed."""
    if record.state.terminal or _submitter_alive(record):
        return record  # still submitting: the submitting process records the outcome
    found = providers.backend_for(record.provider).find_by_mlx_id(record)
    if found is None:
        gave_up = (record.info.get("submitter") or {}).get("ended")
        store.update(
            record.id,
            unless_ended=True,
            state=JobState.FAILED,
            message=(
                "the create never reached the provider"
                if gave_up
                else "mlx was stopped before the job was submitted"
            ),
        )
        return store.get(record.id)
    return record_submission(record, found, store)


def _submitter_alive(record: JobRecord) -> bool:
    """Whether the mlx process that submits ``record`` still runs. A submitter on another
    host (a shared ``$MLX_HOME``) is given ``SUBMIT_TIMEOUT`` seconds."""
    submitter = record.info.get("submitter") or {}
    if submitter.get("ended"):  # its submitter gave up with the outcome unknown
        return False
    pid = submitter.get("pid")
    if submitter.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return time.time() - record.created_at < SUBMIT_TIMEOUT
    return alive(pid)  # this process too: a tuner's thread submitting it
