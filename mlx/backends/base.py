"""The backend interface: the hooks each provider fills in.

A backend maps its provider's vocabulary onto the neutral types of ``mlx.model`` at the
edge (a ``_STATES`` table of native state -> ``JobState``) so the CLI, the store and the
tests speak one language.

Backends are cheap to construct; they create SDK clients on first use (``cached_property``)
with endpoints taken from settings, so tests point them at emulators the way users point them
at private endpoints.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from mlx.errors import BackendError, JobNotFound
from mlx.model import (
    Artifact,
    JobKind,
    JobRecord,
    JobStatus,
    LogLine,
    LogQuery,
    Progress,
    Submission,
    TrialStatus,
)

if TYPE_CHECKING:
    from mlx.cloud.objects import ObjectStore
    from mlx.cloud.pacing import Pacing
    from mlx.providers import Provider
    from mlx.remote import RemoteJob
    from mlx.runner.host import Stores
    from mlx.spec import JobSpec
    from mlx.transfer import PullResult


class Backend(abc.ABC):
    """One provider. Subclasses implement the abstract hooks; the rest has sane defaults."""

    name: ClassVar[str]

    @property
    def provider(self) -> Provider:
        """This backend's descriptor (``mlx.providers``)."""
        from mlx import providers

        return providers.get(self.name)

    @property
    def pacing(self) -> Pacing:
        """Poll and retry intervals now: the descriptor's, with ``MLX_PACING`` laid over."""
        from mlx.cloud.pacing import current

        return current(self.provider.pacing)

    @abc.abstractmethod
    def render(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        """The exact request ``submit`` would send, as plain JSON-able data (no secrets)."""

    @abc.abstractmethod
    def submit(self, spec: JobSpec, job_id: str) -> Submission:
        """Start the job; return once the provider has accepted it."""

    @abc.abstractmethod
    def status(self, record: JobRecord) -> JobStatus:
        """The job's state now."""

    @abc.abstractmethod
    def logs(self, record: JobRecord, query: LogQuery) -> Iterator[LogLine]:
        """Lines in time order; with ``query.follow``, until the job ends and all are read."""

    @abc.abstractmethod
    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        """Every file under the job's artifact prefix (also while the job runs)."""

    def list_artifacts_at(self, record: JobRecord, paths: list[str]) -> list[Artifact]:
        """The files at or under ``paths`` (literal artifact paths, no glob characters): a
        backend lists only where they are; the default lists everything (the caller
        selects). Files beside them (``model/a.pt`` for ``model/a``) may come too."""
        return self.list_artifacts(record)

    @abc.abstractmethod
    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        """Write ``artifact`` to ``target`` (a temporary path the caller renames into place)."""

    @abc.abstractmethod
    def cancel(self, record: JobRecord) -> None:
        """Ask the provider to stop the job; returns without waiting for it to stop."""

    def preflight(self, spec: JobSpec, kind: JobKind) -> None:
        """Refuse, before anything is recorded or sent, a job this machine cannot start
        (a missing optional package); the default checks nothing."""
        return None

    # -- tuning: backends that support it override both --------------------------------

    def render_tuning(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        """The exact tuning request ``submit_tuning`` would send."""
        raise BackendError(f"tuning is not supported on {self.name} yet")

    def submit_tuning(self, spec: JobSpec, job_id: str) -> Submission:
        """Start a tuning job whose trials are recorded as child jobs of ``job_id``."""
        raise BackendError(f"tuning is not supported on {self.name} yet")

    def native_tuner_gap(self, spec: JobSpec) -> Optional[str]:
        """Why the provider's own tuner may not run ``spec``'s trials (one line: what about
        the spec, and what the tuner needs), or None when it runs them (the default). Then
        ``mlx.tuning.engine`` picks mlx's search unless the spec says ``tune.engine``."""
        return None

    def resume_tuning(self, record: JobRecord) -> None:
        """Restart the search driver of tuning job ``record`` (``Capability.RESUME_TUNING``)."""
        raise BackendError(f"tuning jobs cannot be resumed on {self.name}")

    def list_trials(self, record: JobRecord) -> list[TrialStatus]:
        """The trials of a provider-run tuning job; ``jobs.refresh`` records them as child
        jobs, so the trial table, ``--trial N`` and ``--trial best`` work the same for every
        provider. Backends whose tuner writes the store itself (local) return []."""
        return []

    # -- rehearsal: providers with a platform runner (``Provider.runner``) ---------------

    def stage_rehearsal(
        self, spec: JobSpec, job_id: str, kind: JobKind, stores: Stores
    ) -> dict[str, Any]:
        """Stage what job ``job_id`` reads into ``stores`` (local folders standing in for
        the buckets: ``mlx.runner.folders``) exactly as ``submit``/``submit_tuning`` would,
        and return the request they would send (with the real secret values), making no
        call to the provider. ``--rehearse`` hands it to the provider's runner."""
        raise BackendError(f"{self.name} jobs cannot be rehearsed")

    def rehearsed_trial_params(self, spec: JobSpec, params: dict[str, Any]) -> dict[str, Any]:
        """A rehearsed trial's values as the platform's tuner gave them (``TrialOutcome.
        params``) -> spec names and values. The default: they are the spec's already."""
        return params

    # -- optional hooks with defaults -------------------------------------------------

    def adopt(self, native_id: str) -> dict[str, Any]:
        """``JobRecord`` fields for a job mlx did not launch (``provider:native-id``).

        ``jobs.find_job`` records it, so status, logs, pull-artifacts and cancel work on it.
        Returns at least ``name``, ``state``, ``spec`` (``resources.nodes`` at least) and
        ``created_at``; may add ``kind``, ``location``, ``artifacts_uri``, ``info``.

        Raises:
            JobNotFound: the provider has no such job (the default: adoption unsupported).
        """
        raise JobNotFound(
            f"no job {self.name}:{native_id} in the store",
            hint=f"The {self.name} backend cannot look up jobs mlx did not launch.",
        )

    def find_by_mlx_id(self, record: JobRecord) -> Optional[Submission]:
        """The provider's job for ``record``, a job whose submitting mlx died before it
        recorded the provider's answer (``submissions.settle_submission``): found by the name or
        label mlx gives every job, so a create that reached the provider is not lost.
        None: the provider has no such job (the default), and the job is marked failed."""
        return None

    def local_checksum(self, path: Path, artifact: Artifact) -> Optional[str]:
        """``path``'s checksum in the form of ``artifact.checksum``, so a file already
        pulled is skipped and a download is verified before it lands (``mlx.transfer``);
        None when it cannot be computed (size and time decide then, and nothing is
        verified)."""
        return None

    def pull_many(
        self,
        record: JobRecord,
        include: list[str],
        exclude: list[str],
        dest: Path,
        show_progress: bool,
    ) -> Optional[PullResult]:
        """Fetch the artifacts the globs select in one go, where the provider does better
        than listing and fetching file by file (one pass over an archive that can stop
        early). None: ``jobs.pull`` lists, selects and calls ``download`` per file."""
        return None

    def console_url(self, record: JobRecord) -> Optional[str]:
        """The job's page in its provider's web console (``mlx open``; the link shown when
        a job starts), built from the stored record without a call. None: no page (a job
        that runs here, or one the provider never accepted)."""
        return None

    def live_metrics(self, record: JobRecord) -> dict[str, float]:
        """Each metric's latest value of a running job or trial, as its script printed it,
        where that is read without a call to the provider (the live trial table asks it
        for every running trial at each refresh). The default: none known."""
        return {}

    def list_remote(self, limit: int) -> list[RemoteJob]:
        """The provider's own jobs, newest first, at most ``limit``, whoever launched them
        (``mlx jobs -p P --remote``), with the settings of the config file's block."""
        raise BackendError(
            f"{self.name} has no list of jobs of its own",
            hint="`mlx jobs` lists every job mlx launched.",
        )

    def list_states(self, records: list[JobRecord]) -> dict[str, JobStatus]:
        """Fresh states of many of this provider's jobs, by mlx job id, from one filtered
        server-side list where the provider has one (``mlx jobs``). Jobs left out keep
        their stored state; the default leaves out all (a listing then makes no call)."""
        return {}

    # -- TensorBoard (``mlx tensorboard``, ``mlx.tensorboard``) -------------------------

    def tensorboard_places(self, record: JobRecord) -> list[tuple[ObjectStore, str]]:
        """Where job (or trial) ``record`` writes TensorBoard event files: ``(store, key
        prefix)`` pairs, listed and read in ranges while the job runs. The default: none
        known (``mlx tensorboard`` then needs ``--prefix``)."""
        return []

    def store_at(self, record: JobRecord, uri: str) -> tuple[ObjectStore, str]:
        """The store that holds ``uri`` (``mlx tensorboard --prefix``), reached with
        ``record``'s settings, and ``uri``'s key there."""
        raise BackendError(
            f"{self.name} cannot read {uri}",
            hint="`--prefix` takes a location in the job's own cloud storage.",
        )
