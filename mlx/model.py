"""mlx's neutral types: what every layer speaks, whichever provider is behind a job.

Providers map their own vocabulary onto these at the edge (a ``_STATES`` table of native
state -> ``JobState``); the store keeps ``JobRecord`` rows; the CLI prints them. Nothing
here imports a backend, the store or an SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Optional


class JobState(str, Enum):
    """Where a job is in its life, in mlx's words."""

    PENDING = "pending"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES

    def __str__(self) -> str:
        return self.value


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


@dataclass(frozen=True)
class JobStatus:
    """What a provider says about a job now."""

    state: JobState
    message: Optional[str] = None  # failure reason, or the provider's secondary status
    exit_code: Optional[int] = None
    native_state: Optional[str] = None
    metrics: dict[str, float] = field(default_factory=dict)
    # The provider's own clock (epoch seconds): when the job started running and ended.
    # Durations come from these, not from when mlx happened to look.
    started_at: Optional[float] = None
    ended_at: Optional[float] = None
    # The state changes the provider itself records, oldest first, as (time, state,
    # message): SageMaker's SecondaryStatusTransitions. Empty where the provider keeps no
    # history; the start-up view then shows the states it sees change.
    transitions: tuple[tuple[float, str, str], ...] = ()
    # Seconds the provider bills per node, where it reports them (SageMaker's
    # BillableTimeInSeconds, spot savings included); the job's cost uses them.
    billable_seconds: Optional[float] = None


@dataclass(frozen=True)
class Submission:
    """What ``submit`` learned: the provider's id for the job and where its artifacts go."""

    native_id: str
    artifacts_uri: Optional[str]  # None: known only when the job has written them
    location: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LogLine:
    """One line of a job's output. ``node`` is None for lines mlx itself wrote; ``process``
    tells a node's processes apart where a platform starts several per node (Azure ML)."""

    time: float  # seconds since the epoch, UTC
    text: str
    node: Optional[int] = None
    process: Optional[int] = None


@dataclass(frozen=True)
class LogQuery:
    """Which lines ``logs`` yields. Backends push what they can down to the provider."""

    follow: bool = False
    since: Optional[float] = None  # epoch seconds
    tail: Optional[int] = None
    node: Optional[int] = None
    grep: Optional[str] = None  # a regular expression


@dataclass(frozen=True)
class Artifact:
    """One file under a job's artifact prefix; ``path`` is relative to it, with ``/``."""

    path: str
    size: int
    checksum: Optional[str] = None  # provider's ETag/MD5/crc32c, for skip-if-same
    modified: Optional[float] = None


@dataclass(frozen=True)
class TrialStatus:
    """One trial of a provider-run tuning job, as the provider reports it."""

    number: int
    native_id: str
    state: JobState
    params: dict[str, Any] = field(default_factory=dict)
    objective: Optional[float] = None
    message: Optional[str] = None
    pruned: bool = False  # stopped early by the tuner's early stopping
    started_at: Optional[float] = None  # the provider's clock, as in JobStatus
    ended_at: Optional[float] = None


Progress = Callable[[int], None]  # called with the number of bytes just transferred


class JobKind(str, Enum):
    """What a stored job is: a training job, a tuning job, or one trial of a tuning job."""

    TRAINING = "training"
    TUNING = "tuning"
    TRIAL = "trial"

    def __str__(self) -> str:
        return self.value


@dataclass
class JobRecord:
    """One row of the registry."""

    id: str
    provider: str
    name: str
    state: JobState
    spec: dict[str, Any]
    created_at: float
    updated_at: float
    kind: JobKind = JobKind.TRAINING
    parent_id: Optional[str] = None
    native_id: Optional[str] = None
    location: dict[str, Any] = field(default_factory=dict)
    message: Optional[str] = None
    exit_code: Optional[int] = None
    artifacts_uri: Optional[str] = None
    info: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    ended_at: Optional[float] = None

    # -- typed views of the stored spec ------------------------------------------------

    @property
    def is_trial(self) -> bool:
        return self.kind == JobKind.TRIAL

    @property
    def is_tuning(self) -> bool:
        return self.kind == JobKind.TUNING

    @property
    def rehearsal(self) -> Optional[str]:
        """The runtime (``sandbox``, ``docker``) of a job rehearsed on this machine with its
        provider's platform rules (``--rehearse``); None for a job that really ran there.
        In ``location``, so a tuning job's trials carry it too."""
        value = self.location.get("rehearsal")
        return str(value) if value else None

    @property
    def engine(self) -> Optional[str]:
        """``mlx`` for a cloud tuning job whose search mlx runs on this machine, each trial
        a training job on the provider (``tune.engine: mlx``: ``mlx.tuning.engine_backend``),
        and for those trials; None otherwise. In ``location``, like ``rehearsal``."""
        value = self.location.get("engine")
        return str(value) if value else None

    @property
    def nodes(self) -> int:
        """``resources.nodes`` of the spec it ran with (1 when unknown)."""
        return int((self.spec.get("resources") or {}).get("nodes") or 1)

    @property
    def tune(self) -> dict[str, Any]:
        """The spec's ``tune:`` block ({} for a job without one)."""
        return dict(self.spec.get("tune") or {})

    @property
    def objective_metric(self) -> Optional[str]:
        return (self.tune.get("objective") or {}).get("metric")

    @property
    def objective_goal(self) -> str:
        """``minimize`` or ``maximize``."""
        return str((self.tune.get("objective") or {}).get("goal") or "minimize")

    def settings(self, provider: str) -> dict[str, Any]:
        """The spec's block for ``provider`` (``sagemaker:``...), as stored."""
        return dict(self.spec.get(provider) or {})
