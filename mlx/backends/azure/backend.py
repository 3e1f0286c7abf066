"""The Azure ML backend: command and sweep jobs through azure-ai-ml, artifacts and logs
through azure-storage-blob, credentials through azure-identity.

A job is an Azure ML job named by its mlx id, in the experiment named by the spec's
``name``; its artifacts are under ``mlx/<id>/`` on the spec's datastore and its logs under
the run's prefix in the workspace's artifact store (see ``layout``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Optional

from mlx.backends.azure import clients, compute, direct, inputs, logs, runs, staging
from mlx.backends.azure.in_job import METRICS_DIR, METRICS_FILE
from mlx.backends.azure.layout import (
    ARTIFACT_STORE,
    TAG,
    artifact_prefix,
    artifacts_uri,
    log_prefix,
)
from mlx.backends.azure.objects import BlobStore, local_md5
from mlx.backends.azure.render import command_job, output_location, processes_per_node
from mlx.backends.azure.settings import Workspace, compute_for, settings_of, workspace_for
from mlx.backends.azure.states import job_status, state_of, with_run_times
from mlx.backends.azure.sweep import runtime_space, sweep_job, trial_params
from mlx.backends.base import Backend
from mlx.backends.common import masked_secrets, resolve_secrets
from mlx.cloud.budget import budget_for
from mlx.cloud.clients import ClientCache, environment
from mlx.cloud.follow import follow
from mlx.cloud.objects import ObjectStore, list_under
from mlx.cloud.plan import send_uploads
from mlx.model import (
    Artifact,
    JobKind,
    JobRecord,
    JobState,
    JobStatus,
    LogLine,
    LogQuery,
    Progress,
    Submission,
    TrialStatus,
)
from mlx.runner.host import Stores
from mlx.settings import mlx_home
from mlx.spec import OUTPUT_KINDS, JobSpec, spec_from_record

# Environment variables that pick an endpoint or a credential: mlx's endpoint settings,
# and what DefaultAzureCredential reads (service principal, authority, managed identity).
_ENVIRONMENT = ("MLX_AZURE_", "AZURE_", "IDENTITY_", "MSI_")


class AzureBackend(Backend):
    name = "azure"

    def __init__(self) -> None:
        self._clients: ClientCache[Any] = ClientCache()

    @property
    def cache(self) -> Path:
        return mlx_home() / "cache"

    # -- clients -----------------------------------------------------------------------

    def ml(self, workspace: Workspace) -> Any:
        """The ``MLClient`` for ``workspace``, made once per workspace, retry settings and
        endpoint/credential environment."""
        pacing = self.pacing
        key = ("ml", workspace, pacing, environment(*_ENVIRONMENT))
        return self._clients.get(key, lambda: clients.ml_client(workspace, pacing))

    def container(self, workspace: Workspace, datastore: str) -> Any:
        """The ``ContainerClient`` for ``datastore``'s container, made once (as ``ml``)."""
        pacing = self.pacing
        key = ("container", workspace, datastore, pacing, environment(*_ENVIRONMENT))
        return self._clients.get(
            key, lambda: clients.container_client(self.ml(workspace), datastore, pacing)
        )

    def _ml_for(self, record: JobRecord) -> Any:
        return self.ml(Workspace.from_location(record.location))

    def _blobs(self, record: JobRecord, datastore: str) -> BlobStore:
        """``datastore``'s blobs for ``record``: through the endpoints recorded at submit
        (no azure-ai-ml: ``direct``), else through ``container``. Made once, as the
        clients are: its plain GETs keep their connections (``blob_get``)."""
        workspace = Workspace.from_location(record.location)
        found = direct.recorded(record, datastore)
        pacing, env = self.pacing, environment(*_ENVIRONMENT)
        if found is None:
            key: tuple[Any, ...] = ("blobs", workspace, datastore, pacing, env)
            return self._clients.get(key, lambda: BlobStore(self.container(workspace, datastore)))
        store = found["stores"][datastore]
        key = ("recorded blobs", workspace, datastore, repr(store), pacing, env)

        def make() -> BlobStore:
            arm = self._rest(found["arm"], found["arm_scopes"])
            return BlobStore(direct.container(arm, workspace, datastore, store, pacing))

        return self._clients.get(key, make)

    def _rest(self, base_url: str, scopes: list[str]) -> Any:
        """An azure-core pipeline client for ``base_url`` (``direct``), made once."""
        pacing = self.pacing
        key = ("rest", base_url, tuple(scopes), pacing, environment(*_ENVIRONMENT))
        return self._clients.get(key, lambda: direct.pipeline(base_url, scopes, pacing))

    # -- render and submit -------------------------------------------------------------

    def render(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        return self._shown(spec, job_id, command_job)

    def render_tuning(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        return self._shown(spec, job_id, sweep_job)

    def _shown(self, spec: JobSpec, job_id: str, build: Any) -> dict[str, Any]:
        """The document ``translate`` prints, and what it cannot know without a call."""
        from mlx.console import warn

        document = self._document(spec, job_id, build, masked_secrets(spec))
        for message in compute.translate_warnings(spec, compute_for(settings_of(spec))):
            warn(message)
        return document

    def _document(
        self, spec: JobSpec, job_id: str, build: Any, secrets: dict[str, str], code: Any = None
    ) -> dict[str, Any]:
        """``build``'s document; ``code`` is the snapshot (translate: the user's dir)."""
        code = code or staging.code_path(spec, self.cache)
        cluster = compute_for(settings_of(spec))
        return build(spec, job_id, compute=cluster, code=str(code), secrets=secrets)

    def submit(self, spec: JobSpec, job_id: str) -> Submission:
        return self._submit(spec, job_id, command_job)

    def submit_tuning(self, spec: JobSpec, job_id: str) -> Submission:
        return self._submit(spec, job_id, sweep_job)

    def _submit(self, spec: JobSpec, job_id: str, build: Any) -> Submission:
        secrets = resolve_secrets(spec)  # at submit only; a missing one fails before any call
        workspace = workspace_for(settings_of(spec))
        ml = self.ml(workspace)
        _check_cluster(ml, spec)
        uploads = inputs.local_uploads(spec)  # mlx's to send, with progress (``inputs``)
        if uploads:
            store = BlobStore(self.container(workspace, settings_of(spec).datastore))
            send_uploads(store, uploads)
        with staging.snapshot(spec, self.cache) as code:
            document = self._document(spec, job_id, build, secrets, code=code)
            job = staging.create(ml, document)
        location = {**workspace.location(), "datastore": settings_of(spec).datastore}
        studio = getattr(job, "studio_url", None)
        return Submission(
            native_id=job_id,
            artifacts_uri=artifacts_uri(settings_of(spec).datastore, job_id),
            location=location,
            info={**({"studio_url": studio} if studio else {}), **_endpoints(ml, spec, job_id)},
        )

    def stage_rehearsal(
        self, spec: JobSpec, job_id: str, kind: JobKind, stores: Stores
    ) -> dict[str, Any]:
        """The document ``submit`` would send, checked by azure-ai-ml as submit has it
        checked, with what the SDK would upload (the code snapshot, local inputs) put into
        ``stores`` and named by its datastore URI."""
        build = sweep_job if kind == JobKind.TUNING else command_job
        secrets = resolve_secrets(spec)
        for upload in inputs.local_uploads(spec):  # what submit sends itself
            store, _ = stores(upload.uri)
            send_uploads(store, [upload])
        with staging.snapshot(spec, self.cache) as code:
            document = self._document(spec, job_id, build, secrets, code=code)
            staging.load(document)
            return staging.stage_uploads(document, stores)

    def find_by_mlx_id(self, record: JobRecord) -> Optional[Submission]:
        """The job is named after its mlx id (and tagged with it): a GET by name finds it."""
        spec = _spec_of(record)
        workspace = workspace_for(settings_of(spec))
        if staging.find(self.ml(workspace), record.id) is None:
            return None
        return Submission(
            native_id=record.id,
            artifacts_uri=artifacts_uri(settings_of(spec).datastore, record.id),
            location={**workspace.location(), "datastore": settings_of(spec).datastore},
            info=_endpoints(self.ml(workspace), spec, record.id),
        )

    def adopt(self, native_id: str) -> dict[str, Any]:
        """A job mlx did not launch (``azure:<name>``): ``adopt.py``."""
        from mlx.backends.azure.adopt import describe_for_adoption

        return describe_for_adoption(self, native_id)

    def list_remote(self, limit: int) -> list[Any]:
        from mlx.backends.azure.adopt import list_remote

        return list_remote(self, limit)

    # -- state -------------------------------------------------------------------------

    def status(self, record: JobRecord) -> JobStatus:
        found = direct.recorded(record)
        if found is not None and not record.is_tuning:  # a sweep's trials need azure-ai-ml
            return self._direct_status(record, found)
        ml = self._ml_for(record)
        name = record.native_id or record.id
        if record.is_trial:  # trials are child runs: run history only
            details = runs.run_details(ml, name)
            return with_run_times(job_status(details.status, runs.run_error(details)), details)
        with clients.azure_errors(f"jobs.get({name})"):
            native = ml.jobs.get(name).status
        if not state_of(native).terminal:
            return job_status(native, None)
        # Once it ended, run history has its failure message and its own start and end
        # times (one call, made once: a refresh stops at a terminal state).
        details = _details_of(ml, name)
        failed = state_of(native) in (JobState.FAILED, JobState.CANCELLED)
        error = runs.run_error(details) if failed and details is not None else None
        status = with_run_times(job_status(native, error), details)
        if record.kind == JobKind.TRAINING and not record.info.get("adopted"):
            return replace(status, metrics=self._metrics(record))
        return status

    def _direct_status(self, record: JobRecord, found: dict[str, Any]) -> JobStatus:
        """One run-history call: the state, and once ended its reason and own times."""
        workspace = Workspace.from_location(record.location)
        api = self._rest(found["api"], found["api_scopes"])
        details = direct.run_details(api, workspace, record.native_id or record.id)
        status = direct.status_of(details)
        if status.state.terminal and record.kind == JobKind.TRAINING:
            return replace(status, metrics=self._metrics(record))
        return status

    def _metrics(self, record: JobRecord) -> dict[str, float]:
        """Each metric's last value, from the record the bootstrap kept in the job's
        ``output`` output (``in_job.METRICS_FILE``): one blob GET, once the job has ended."""
        from mlx.backends.local.run import parse_metrics

        spec = _spec_of(record)
        datastore, prefix = output_location(spec, "output", record.native_id or record.id)
        data = self._blobs(record, datastore).get_bytes(prefix + METRICS_FILE)
        return parse_metrics(data.decode("utf-8", "replace").splitlines()) if data else {}

    def console_url(self, record: JobRecord) -> Optional[str]:
        from mlx.backends.azure.console import console_url

        return console_url(record)

    def list_states(self, records: list[JobRecord]) -> dict[str, JobStatus]:
        """One listing per workspace, filtered by mlx's tag on the service; Azure ML lists
        cannot filter by status, so ``mlx jobs --status`` filters these client-side."""
        found: dict[str, JobStatus] = {}
        by_workspace: dict[Workspace, dict[str, str]] = {}
        for record in records:
            if record.location.get("workspace"):
                names = by_workspace.setdefault(Workspace.from_location(record.location), {})
                names[record.native_id or record.id] = record.id
        for workspace, names in by_workspace.items():
            with clients.azure_errors("jobs.list"):
                for job in self.ml(workspace).jobs.list(tag=TAG):  # newest first, paged
                    if job is not None and job.name in names:
                        found[names.pop(job.name)] = job_status(job.status, None)
                    if not names:
                        break
        # A job the listing shows ended: its run history once, for the reason and its own
        # start and end (a refresh stops at a terminal state, so once per job's life).
        by_id = {r.id: r for r in records}
        for job_id, status in found.items():
            if status.state.terminal:
                found[job_id] = self.status(by_id[job_id])
        return found

    def cancel(self, record: JobRecord) -> None:
        """Request the cancel, and follow Azure's cancel operation for a few seconds (it
        ends once the job is Canceled); ``jobs.cancel`` then waits on the job's state."""
        name = record.native_id or record.id
        with clients.azure_errors(f"jobs.begin_cancel({name})"):
            poller = self._ml_for(record).jobs.begin_cancel(name)
            poller.wait(timeout=self.pacing.cancel_wait)

    def list_trials(self, record: JobRecord) -> list[TrialStatus]:
        spec = _spec_of(record)
        if not record.is_tuning or spec.tune is None:
            return []
        space, metric = runtime_space(spec.tune), spec.tune.objective.metric
        sweep = record.native_id or record.id
        found = []
        for run in runs.children(self._ml_for(record), sweep):
            number = runs.trial_number(sweep, run.get("runId", ""))
            if number is not None:
                params = trial_params(space, runs.chosen_values(run))
                found.append(runs.trial_status(number, run, params, runs.objective_of(run, metric)))
        return sorted(found, key=lambda t: t.number)

    def rehearsed_trial_params(self, spec: JobSpec, params: dict[str, Any]) -> dict[str, Any]:
        """The sweep's values by search-space key (as the child run's ``hyperparameters``
        tag holds them) -> spec names and values."""
        return trial_params(runtime_space(spec.tune), params) if spec.tune else params

    # -- logs --------------------------------------------------------------------------

    def logs(self, record: JobRecord, query: LogQuery) -> Iterator[LogLine]:
        workspace = Workspace.from_location(record.location)
        store = self._blobs(record, ARTIFACT_STORE)

        def ended() -> bool:
            return self.status(record).state.terminal

        # The blobs are read from their offsets, not by time: ``start`` only names the
        # oldest line wanted, which the reader checks itself.
        since = query.since if query.since is not None else 0.0
        # One ceiling on blob calls for this machine's followers of the workspace (logs.py).
        with budget_for(f"azure-logs-{workspace.workspace}", self.pacing) as budget:
            prefix = log_prefix(record.native_id or record.id)
            per_node = processes_per_node(_spec_of(record))
            reader = logs.LogReader(store, prefix, per_node, query, budget)
            yield from follow(reader, query, ended, self.pacing, start=since)

    # -- artifacts ---------------------------------------------------------------------

    def _artifacts(self, record: JobRecord) -> list[tuple[BlobStore, str, str]]:
        """Where the job's outputs are: ``(datastore container, its prefix there, the
        artifact paths' prefix)``. Artifacts come straight from the datastore: azure-ai-ml's
        ``jobs.download`` works only once a job has ended and fetches everything. Outputs
        at the default place share the job's prefix (one listing); an ``outputs:`` path of
        the spec is where Azure ML wrote that output, shown as ``<output>/...``."""
        workspace = Workspace.from_location(record.location)
        if record.info.get("adopted"):  # where Azure ML keeps its outputs: adopt.py
            return [
                (BlobStore(self.container(workspace, store)), prefix, shown)
                for store, prefix, shown in record.info["places"]
            ]
        datastore = record.location.get("datastore") or "workspaceblobstore"
        spec = _spec_of(record)
        native = record.native_id or ""
        found = [(self._blobs(record, datastore), artifact_prefix(native), "")]
        for kind in OUTPUT_KINDS:
            if spec.outputs.get(kind):  # type: ignore[call-overload]
                where, prefix = output_location(spec, kind, native)
                found.append((self._blobs(record, where), prefix, f"{kind}/"))
        return found

    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        return self.list_artifacts_at(record, None)

    def list_artifacts_at(self, record: JobRecord, paths: Optional[list[str]]) -> list[Artifact]:
        from mlx.transfer import narrowed

        found: dict[str, Artifact] = {}
        # mlx's own record (``in_job.METRICS_FILE``) is not an artifact; an adopted job's
        # outputs are all its own.
        own = () if record.info.get("adopted") else ("output/" + METRICS_DIR,)
        for store, prefix, shown in self._artifacts(record):
            for listed in narrowed(prefix, shown, paths):
                for artifact in list_under(store, listed, partial(_relative, prefix)):
                    path = shown + artifact.path
                    if not path.startswith(own):
                        found[path] = replace(artifact, path=path)
        return sorted(found.values(), key=lambda a: a.path)

    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        places = self._artifacts(record)
        # The most specific place that holds the path: a custom output over the job's prefix.
        store, prefix, shown = max(
            (p for p in places if artifact.path.startswith(p[2])), key=lambda p: len(p[2])
        )
        key = prefix + artifact.path[len(shown) :]
        store.download(
            key, target, progress, artifact.checksum, label=artifact.path, size=artifact.size
        )

    def local_checksum(self, path: Path, artifact: Artifact) -> Optional[str]:
        return local_md5(path)

    def tensorboard_places(self, record: JobRecord) -> list[tuple[ObjectStore, str]]:
        # MLX_OUTPUT_DIR/tensorboard: in the job's output place (a spec's `outputs.output`
        # when it names one, as in `download`).
        folder = "output/tensorboard/"
        places = [p for p in self._artifacts(record) if folder.startswith(p[2])]
        if not places:
            return []
        store, prefix, shown = max(places, key=lambda p: len(p[2]))
        return [(store, prefix + folder[len(shown) :])]

    def store_at(self, record: JobRecord, uri: str) -> tuple[ObjectStore, str]:
        from mlx.tensorboard.stores import datastore_path

        found = datastore_path(uri)
        if found is None:
            return super().store_at(record, uri)
        return self._blobs(record, found[0]), found[1]


def _endpoints(ml: Any, spec: JobSpec, job_id: str) -> dict[str, Any]:
    """``info`` entry of the endpoints later calls need (``direct``): the job's datastore,
    the log store, those of the spec's ``outputs:``. Best effort: the job exists already;
    without the entry its later calls go through azure-ai-ml (also when an azure-ai-ml
    release no longer has the attributes ``at_submit`` reads)."""
    from mlx.errors import MlxError

    stores = [settings_of(spec).datastore, ARTIFACT_STORE]
    stores += [output_location(spec, kind, job_id)[0] for kind in OUTPUT_KINDS]
    try:
        return {direct.KEY: direct.at_submit(ml, stores)}
    except (MlxError, AttributeError, TypeError):
        return {}


def _relative(prefix: str, key: str) -> str:
    return key[len(prefix) :]


def _details_of(ml: Any, name: str) -> Any:
    """Run-history details (failure message, times); the state stands without them."""
    from mlx.errors import MlxError

    try:
        return runs.run_details(ml, name)
    except MlxError:
        return None


def _check_cluster(ml: Any, spec: JobSpec) -> None:
    """Warn when the cluster's VM size falls short of ``resources``, and where the cluster
    decides what ``resources`` asked for (spot, disk: ``compute``). One GET, best effort: a
    cluster mlx cannot read is the service's to reject."""
    from mlx.catalog.resolver import resolve
    from mlx.console import warn
    from mlx.errors import BackendError, SpecError

    name = compute_for(settings_of(spec))
    try:
        with clients.azure_errors(f"compute.get({name})"):
            cluster = ml.compute.get(name)
        found = resolve(
            "azure",
            accelerator=spec.resources.accelerator_request,
            cpus=spec.resources.cpus,
            memory_gb=spec.resources.memory_gb,
            override=cluster.size,
        )
    except (BackendError, SpecError):  # missing credentials surface at the create
        return
    for message in found.warnings:  # a shortfall only: the cluster exists, its price is paid
        if "does not satisfy" in message:
            warn(f"compute {name}: {message.split(': ', 1)[-1]}")
    for message in compute.cluster_warnings(spec, name, cluster):
        warn(message)


def _spec_of(record: JobRecord) -> JobSpec:
    return spec_from_record(
        record.spec, record.info.get("base_dir", "."), record.info.get("source", "<spec>")
    )
