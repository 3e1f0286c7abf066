"""What a platform runner asks of whoever hosts the run, and what it answers.

Two hosts exist: the emulated clouds in the tests (objects in the emulated buckets, lines
into CloudWatch / Cloud Logging / Azure's log blobs, events setting the job's state) and
``--rehearse`` (objects in a local folder per bucket, lines into the job's log files).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from mlx.runner.container import Runtime

if TYPE_CHECKING:
    from mlx.cloud.objects import ObjectStore


# A URI (``s3://bucket/key``, ``gs://...``, ``azureml://...``) -> the object store that
# holds it and the object key (or prefix) in that store.
Stores = Callable[[str], "tuple[ObjectStore, str]"]


@dataclass
class TrialOutcome:
    """One trial of a tuning job as the platform's tuner saw it."""

    id: str  # the platform's trial id ("1", a training job name, a child run name)
    params: dict[str, Any]
    state: str  # "succeeded" | "failed" | "cancelled"
    objective: Optional[float] = None
    reason: Optional[str] = None
    artifacts_uri: Optional[str] = None  # where the runner put the trial's outputs


@dataclass
class Outcome:
    """How a job ended, in mlx's words (``JobState`` values)."""

    state: str  # "succeeded" | "failed" | "cancelled"
    reason: Optional[str] = None
    exit_codes: list[int] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    trials: list[TrialOutcome] = field(default_factory=list)
    artifacts_uri: Optional[str] = None  # where the runner put the job's outputs


@dataclass(frozen=True)
class Where:
    """Where a line was printed."""

    node: int  # the node's rank, from 0
    stream: str  # the platform's log stream: `<job>/algo-1-<t>`, `workerpool0-0`, ...
    trial: Optional[str] = None  # the platform's trial id, in a tuning job
    channel: str = "stdout"  # "stdout" | "stderr"


@dataclass
class Host:
    """Where a run's objects, lines and events go.

    Attributes:
        store: a URI -> the object store holding it and the object key (or prefix).
        runtime: starts the containers (sandbox or docker).
        workspace: a folder of the host's for the nodes' mounted folders.
        line: (where, text, time): a line a container printed (``Where``: its node, the
            platform's name for its log stream, its trial).
        event: (what, details): ``running``, ``ended``, ``trial-started``, ``trial-ended``
            with the platform's own details, for a host that serves the platform's API.
        cancelled: set by the host to stop the job (the platform's stop call).
    """

    store: Stores
    runtime: Runtime
    workspace: Path
    line: Callable[[Where, str, float], None]
    event: Callable[[str, dict[str, Any]], None] = lambda what, details: None
    cancelled: threading.Event = field(default_factory=threading.Event)


class PlatformRunner(Protocol):
    """A provider's rules for running its own requests (``Provider.runner``)."""

    def run_training(self, request: dict[str, Any], host: Host) -> Outcome:
        """Run the training request (as ``mlx translate`` prints it) to its end."""
        ...

    def run_tuning(self, request: dict[str, Any], host: Host) -> Outcome:
        """Run the tuning request: the platform's tuner picks values, trials run."""
        ...


def fetch(store: ObjectStore, key: str, dest: Path) -> int:
    """Copy the object ``key``, or every object under the prefix ``key``, into the folder
    ``dest`` (names relative to the prefix kept; one object keeps its own name), as a
    platform downloads an input channel before the job starts. The number of files."""
    count = 0
    for info in store.list(key):
        if info.key.endswith("/"):
            continue  # a folder marker
        if info.key == key:
            name = key.rsplit("/", 1)[-1]
        elif key.endswith("/") or info.key[len(key)] == "/":
            name = info.key[len(key) :].lstrip("/")
        else:
            continue  # `data` must not take `data2/...`
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        store.download(info.key, target, lambda n: None)
        count += 1
    return count
