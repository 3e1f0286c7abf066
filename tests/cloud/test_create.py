"""create_once with plain callables: a provider that loses answers, one that finds jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from mlx.cloud.create import backoff, create_once
from mlx.cloud.pacing import Pacing
from mlx.errors import BackendError, BackendUnavailable, OutcomeUnknown


class Lost(Exception):
    """The connection dropped: the create may or may not have happened."""


class InUse(Exception):
    """The provider already has a job of that name."""


class Rejected(Exception):
    """A definite answer: the request is wrong, nothing was created."""


@dataclass
class Provider:
    """Answers ``create`` with the errors in ``faults`` (in order), then with a job;
    ``created`` says whether a create that failed had created the job anyway."""

    faults: list[Exception] = field(default_factory=list)
    created: bool = False
    creates: int = 0
    finds: int = 0
    delays: list[int] = field(default_factory=list)

    def create(self) -> str:
        self.creates += 1
        if self.faults:
            raise self.faults.pop(0)
        self.created = True
        return "job"

    def find(self) -> Optional[str]:
        self.finds += 1
        return "found job" if self.created else None

    def settle(self, attempts: int = 3) -> str:
        return create_once(
            "CreateJob mlx-1",
            self.create,
            self.find,
            is_lost=lambda e: isinstance(e, Lost),
            exists=lambda e: isinstance(e, InUse),
            attempts=attempts,
            delay=self.delay,
        )

    def delay(self, attempt: int) -> float:
        self.delays.append(attempt)
        return 0.0


def test_an_answer_that_arrives_is_the_job() -> None:
    provider = Provider()
    assert provider.settle() == "job"
    assert (provider.creates, provider.finds) == (1, 0)


def test_a_lost_answer_whose_job_is_found_is_created_once() -> None:
    provider = Provider(faults=[Lost("reset")], created=True)
    assert provider.settle() == "found job"
    assert (provider.creates, provider.finds) == (1, 1)


def test_a_lost_answer_whose_job_is_not_found_is_tried_again() -> None:
    provider = Provider(faults=[Lost("reset"), Lost("timeout")])
    assert provider.settle() == "job"
    assert (provider.creates, provider.finds) == (3, 2)
    assert provider.delays == [1, 2]


def test_answers_lost_every_time_fail_naming_the_call_and_the_attempts() -> None:
    provider = Provider(faults=[Lost("reset") for _ in range(5)])
    with pytest.raises(BackendError) as raised:
        provider.settle(attempts=3)
    assert str(raised.value) == "CreateJob mlx-1 failed after 3 attempts: reset"
    assert isinstance(raised.value.__cause__, Lost)
    assert (provider.creates, provider.finds) == (3, 3)
    assert provider.delays == [1, 2]  # no wait after the last attempt


def test_with_one_attempt_the_lost_error_itself_is_raised() -> None:
    provider = Provider(faults=[Lost("reset")])
    with pytest.raises(Lost):
        provider.settle(attempts=1)
    assert (provider.creates, provider.finds) == (1, 1)


def test_an_already_exists_answer_for_mlx_s_job_is_the_job() -> None:
    provider = Provider(faults=[InUse("in use")], created=True)
    assert provider.settle() == "found job"
    assert (provider.creates, provider.finds) == (1, 1)


def test_an_already_exists_answer_for_a_job_mlx_cannot_find_is_raised() -> None:
    provider = Provider(faults=[InUse("in use")])
    with pytest.raises(InUse):
        provider.settle()
    assert (provider.creates, provider.finds) == (1, 1)


def test_a_definite_error_is_raised_at_once_without_a_lookup() -> None:
    provider = Provider(faults=[Rejected("bad request")])
    with pytest.raises(Rejected):
        provider.settle()
    assert (provider.creates, provider.finds) == (1, 0)


def test_a_lookup_that_fails_ends_the_create_it_may_exist() -> None:
    provider = Provider(faults=[Lost("reset")])

    def broken_find() -> Any:
        raise Rejected("lookup failed")

    with pytest.raises(Rejected, match="lookup failed"):
        create_once(
            "CreateJob mlx-1",
            provider.create,
            broken_find,
            is_lost=lambda e: isinstance(e, Lost),
            attempts=3,
        )
    assert provider.creates == 1


def test_backoff_doubles_from_retry_initial_up_to_retry_max() -> None:
    delay = backoff(Pacing(retry_initial=1.0, retry_max=5.0))
    assert [delay(n) for n in (1, 2, 3)] == [2.0, 4.0, 5.0]


@dataclass
class Unreachable(Provider):
    """A provider whose lookup fails after the create's answer was lost."""

    lookup_error: Exception = field(default_factory=lambda: BackendError("DescribeJob failed"))

    def find(self) -> Optional[str]:
        self.finds += 1
        raise self.lookup_error


@pytest.mark.parametrize("fault", [Lost("reset"), InUse("exists")], ids=["lost", "in-use"])
def test_a_lost_answer_and_a_failing_lookup_leave_the_outcome_unknown(fault: Exception) -> None:
    provider = Unreachable(faults=[fault], created=True)
    with pytest.raises(OutcomeUnknown) as raised:
        provider.settle()
    assert raised.value.message == (
        "CreateJob mlx-1: the answer was lost and looking the job up failed too "
        "(DescribeJob failed); the job may be running"
    )
    assert (provider.creates, provider.finds) == (1, 1)  # never created a second time


def test_missing_credentials_on_the_lookup_are_not_an_unknown_outcome() -> None:
    provider = Unreachable(faults=[Lost("reset")], lookup_error=BackendUnavailable("no creds"))
    with pytest.raises(BackendUnavailable):
        provider.settle()
