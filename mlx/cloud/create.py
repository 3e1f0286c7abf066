"""Create a job once, and settle a create whose answer was lost.

A create call can reach the provider and still fail on mlx's side: the connection drops
after the request went out, the answer is cut off, the SDK times out, or the SDK's own
retry of a create that had arrived is answered "already exists". Retrying such a call
blindly can start the job twice (Vertex assigns job ids itself), so every cloud backend
creates through ``create_once``. Each provider supplies what only it knows: the create
call, a lookup of the job by mlx's own id (its name on SageMaker and Azure ML, the
``mlx-job-id`` label on Vertex), and which of its errors mean "the answer may be lost" or
"the job already exists".
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Optional, TypeVar

from mlx.errors import BackendError, BackendUnavailable, MlxError, OutcomeUnknown

if TYPE_CHECKING:
    from mlx.cloud.pacing import Pacing

T = TypeVar("T")


def create_once(
    what: str,
    create: Callable[[], T],
    find: Callable[[], Optional[T]],
    *,
    is_lost: Callable[[Exception], bool],
    exists: Callable[[Exception], bool] = lambda error: False,
    attempts: int = 1,
    delay: Callable[[int], float] = lambda attempt: 0.0,
    describe: Callable[[Exception], str] = str,
) -> T:
    """Create a job with ``create``; never create it twice.

    The rule: a create whose answer may have been lost is never simply retried. The
    provider is asked for the job by mlx's own id first (``find``); a job found is the
    job. Only an answer that proves the job does not exist (``find`` returns None) allows
    another attempt, after ``delay(attempt)`` seconds. An error that says the job already
    exists is settled the same way, by ``find``. After the last attempt the error names
    the call and the number of attempts.

    Args:
        what: the call, as errors name it (``"CreateCustomJob <id>"``).
        create: sends the create request; returns what the provider answered.
        find: the job carrying mlx's id, or None when the provider has none. After a lost
            answer its ``MlxError`` becomes ``OutcomeUnknown`` (the job may exist).
        is_lost: whether an error from ``create`` means its answer may have been lost
            (a dropped connection, a timeout, a 5xx or 429 after the SDK's own retries).
        exists: whether an error from ``create`` says the job already exists (the SDK
            retried a create that had arrived).
        attempts: creates tried at most, the first included (``Pacing.create_attempts``).
            With one (the SDK retried the call itself), the last error is raised as is.
        delay: seconds to wait after failed attempt n (1-based), e.g. ``backoff(pacing)``.
        describe: the error's text in the final message.

    Returns:
        What ``create`` answered, or what ``find`` found.

    Raises:
        Exception: an error from ``create`` that is neither lost nor "exists" (at once),
            the last lost error when ``attempts`` is 1.
        OutcomeUnknown: an answer was lost and ``find`` failed too.
        BackendError: ``"<what> failed after <n> attempts: <error>"`` when every attempt
            was lost and the job was not found.
    """
    lost: Optional[Exception] = None
    for attempt in range(1, attempts + 1):
        try:
            return create()
        except Exception as error:
            if exists(error):
                return _existing(what, find, error)
            if not is_lost(error):
                raise
            lost = error
        found = _settle(what, find)
        if found is not None:
            return found
        if attempt < attempts:
            time.sleep(delay(attempt))
    if lost is None:  # attempts < 1: nothing was tried
        raise ValueError(f"create_once({what!r}): attempts must be at least 1")
    if attempts == 1:
        raise lost
    raise BackendError(f"{what} failed after {attempts} attempts: {describe(lost)}") from lost


def _settle(what: str, find: Callable[[], Optional[T]]) -> Optional[T]:
    """``find()`` after a lost answer. When the provider cannot be asked either, whether the
    job exists is unknown: never "failed" (it may be running), never created again."""
    try:
        return find()
    except BackendUnavailable:
        raise
    except MlxError as e:
        raise OutcomeUnknown(
            f"{what}: the answer was lost and looking the job up failed too ({e.message}); "
            "the job may be running",
            hint="`mlx status` or `mlx jobs` settles it once the provider answers again.",
        ) from e


def _existing(what: str, find: Callable[[], Optional[T]], error: Exception) -> T:
    """The job that ``error`` says exists; ``error`` itself when it is not mlx's."""
    found = _settle(what, find)
    if found is None:
        raise error
    return found


def backoff(pacing: Pacing) -> Callable[[int], float]:
    """Delays between creates: ``retry_initial`` doubled per attempt, at most ``retry_max``."""
    return lambda attempt: min(pacing.retry_initial * 2**attempt, pacing.retry_max)
