"""The Vertex AI backend: ``aiplatform_v1`` JobService (REST), Cloud Storage, Cloud Logging.

Vertex assigns job ids itself, so a create whose answer was lost (a timeout, a dropped
connection) cannot be retried blindly: every job carries the label ``mlx-job-id``, and
mlx lists by that label before creating again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mlx.backends.base import Backend
from mlx.backends.common import masked_secrets, resolve_secrets
from mlx.backends.vertex.clients import (
    ENVIRONMENT,
    Backoff,
    Clients,
    describe,
    gcp_errors,
    is_transient,
)
from mlx.backends.vertex.layout import Layout, artifact_path
from mlx.backends.vertex.logs import CloudLoggingReader, ListPage, Source, first_time, rfc3339
from mlx.backends.vertex.objects import GcsStore, file_crc32c
from mlx.backends.vertex.render import JOB_LABEL, training_plan
from mlx.backends.vertex.settings import Target, target_of
from mlx.backends.vertex.states import (
    job_status,
    numeric_id,
    trial_native,
    trial_status,
)
from mlx.backends.vertex.study import tuning_plan
from mlx.cloud.budget import budget_for
from mlx.cloud.clients import ClientCache, environment
from mlx.cloud.create import backoff, create_once
from mlx.cloud.follow import follow
from mlx.cloud.layout import split_uri
from mlx.cloud.objects import ObjectStore, list_under
from mlx.cloud.plan import Plan, stage
from mlx.errors import BackendError
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
from mlx.spec import JobSpec

if TYPE_CHECKING:
    from mlx.runner.host import Stores

# request key -> (message class, JobService noun)
_KINDS = {
    "customJob": ("CustomJob", "custom_job"),
    "hyperparameterTuningJob": ("HyperparameterTuningJob", "hyperparameter_tuning_job"),
}


class VertexBackend(Backend):
    name = "vertex"

    def __init__(self) -> None:
        self._clients: ClientCache[Clients] = ClientCache()

    @property
    def backoff(self) -> Backoff:
        pacing = self.pacing
        return Backoff(pacing.retry_initial, pacing.retry_max, pacing.retry_total)

    def clients(self, target: Target) -> Clients:
        """The clients for ``target``'s project, location and bucket, made once; also keyed
        by the environment that picks endpoints and credentials (``ENVIRONMENT``)."""
        where = Target(target.project, target.location, target.bucket)
        return self._clients.get((where, environment(*ENVIRONMENT)), lambda: Clients(where))

    def record_clients(self, record: JobRecord) -> Clients:
        return self.clients(target_of(record.location))

    # -- render and submit -------------------------------------------------------------

    def render(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        return training_plan(spec, job_id, masked_secrets(spec)).shown()

    def render_tuning(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        return tuning_plan(spec, job_id, masked_secrets(spec)).shown()

    def submit(self, spec: JobSpec, job_id: str) -> Submission:
        return self._launch(training_plan(spec, job_id, resolve_secrets(spec)))

    def submit_tuning(self, spec: JobSpec, job_id: str) -> Submission:
        return self._launch(tuning_plan(spec, job_id, resolve_secrets(spec)))

    def _launch(self, plan: Plan) -> Submission:
        """Parse the request strictly, stage what the job reads, then create it once."""
        key, message = checked(plan)
        clients = self.clients(plan.target)
        clients.jobs  # noqa: B018 - missing credentials fail before anything is uploaded
        stage(self._store(clients), plan)
        job = self._create(clients, key, plan, message)
        return Submission(
            native_id=job.name,
            artifacts_uri=plan.layout.job_uri,
            location=plan.target.as_location(),
        )

    def stage_rehearsal(
        self, spec: JobSpec, job_id: str, kind: JobKind, stores: Stores
    ) -> dict[str, Any]:
        """What ``submit`` stages, put into ``stores``; the request it would send."""
        make = tuning_plan if kind == JobKind.TUNING else training_plan
        plan = make(spec, job_id, resolve_secrets(spec))
        checked(plan)
        store, _ = stores(plan.layout.job_uri)
        stage(store, plan)
        return plan.request

    def _create(self, clients: Clients, key: str, plan: Plan, message: Any) -> Any:
        """Create the job once (``mlx.cloud.create``): after an answer that may have been
        lost, the job is looked for by its ``mlx-job-id`` label before another attempt."""
        cls_name, noun = _KINDS[key]
        create = getattr(clients.jobs, f"create_{noun}")
        what = f"Create{cls_name} {plan.layout.job_id}"
        parent, pacing = plan.target.parent, self.pacing
        with gcp_errors(what):
            return create_once(
                what,
                # No retry object: a retried create could start the job twice.
                lambda: create(parent=parent, **{noun: message}, retry=None),
                lambda: self._find_by_label(clients, noun, parent, plan.layout.job_id),
                is_lost=is_transient,
                attempts=pacing.create_attempts,
                delay=backoff(pacing),
                describe=describe,
            )

    def _find_by_label(self, clients: Clients, noun: str, parent: str, job_id: str) -> Any:
        """The job labelled with mlx id ``job_id``, or None."""
        lister = getattr(clients.jobs, f"list_{noun}s")
        request = {"parent": parent, "filter": f'labels.{JOB_LABEL}="{job_id}"'}
        with gcp_errors(f"listing jobs labelled {JOB_LABEL}={job_id}"):
            return next(iter(lister(request=request, retry=self.backoff.retry())), None)

    def find_by_mlx_id(self, record: JobRecord) -> Optional[Submission]:
        """Every job carries its mlx id as a label: a filtered list finds it."""
        from mlx.backends.vertex.layout import Layout
        from mlx.backends.vertex.settings import target_for
        from mlx.spec import spec_from_record

        spec = spec_from_record(record.spec, record.info["base_dir"], record.info["source"])
        target = target_for(spec)
        noun = "hyperparameter_tuning_job" if record.is_tuning else "custom_job"
        job = self._find_by_label(self.clients(target), noun, target.parent, record.id)
        if job is None:
            return None
        layout = Layout(target.bucket, record.id)
        return Submission(job.name, layout.job_uri, location=target.as_location())

    def adopt(self, native_id: str) -> dict[str, Any]:
        """A custom job mlx did not launch (``vertex:<id>``): ``adopt.py``."""
        from mlx.backends.vertex.adopt import describe_for_adoption

        return describe_for_adoption(self, native_id)

    def list_remote(self, limit: int) -> list[Any]:
        from mlx.backends.vertex.adopt import list_remote

        return list_remote(self, limit)

    # -- state -------------------------------------------------------------------------

    def _get(self, record: JobRecord, name: str, tuning: bool) -> Any:
        jobs = self.record_clients(record).jobs
        noun = "hyperparameter_tuning_job" if tuning else "custom_job"
        what = f"Get{'HyperparameterTuningJob' if tuning else 'CustomJob'} {name}"
        with gcp_errors(what, missing=f"Vertex AI has no job {name!r}"):
            return getattr(jobs, f"get_{noun}")(name=name, retry=self.backoff.retry())

    def status(self, record: JobRecord) -> JobStatus:
        if not record.native_id:
            return JobStatus(JobState.FAILED, "the job was never created on Vertex AI")
        if record.is_trial:
            return self._trial_status(record)
        job = self._get(record, record.native_id, tuning=record.is_tuning)
        status = job_status(job)
        adopted = record.info.get("adopted")  # its script wrote no mlx metrics file
        if status.state.terminal and record.kind == JobKind.TRAINING and not adopted:
            return job_status(job, self._metrics(record))
        return status

    def _trial_status(self, record: JobRecord) -> JobStatus:
        job_name, trial = trial_native(record.native_id or "")
        for found in self._trials(record, job_name):
            if str(found.number) == trial:
                return JobStatus(found.state, found.message, metrics=_objective(record, found))
        return JobStatus(JobState.PENDING)

    def _metrics(self, record: JobRecord) -> dict[str, float]:
        """Each metric's last value, from the metrics.jsonl the bootstrap wrote."""
        from mlx.backends.local.run import parse_metrics

        layout = Layout(record.location["bucket"], record.id)
        store = self._store(self.record_clients(record))
        data = store.get_bytes(split_uri(layout.metrics_uri)[1])
        return parse_metrics(data.decode("utf-8", "replace").splitlines()) if data else {}

    def list_trials(self, record: JobRecord) -> list[TrialStatus]:
        return self._trials(record, record.native_id or "")

    def _trials(self, record: JobRecord, job_name: str) -> list[TrialStatus]:
        tune = record.spec.get("tune") or {}
        job = self._get(record, job_name, tuning=True)
        objective = tune.get("objective", {}).get("metric", "")
        space = tune.get("parameters") or {}
        return [trial_status(t, job.name, objective, space) for t in job.trials]

    def console_url(self, record: JobRecord) -> Optional[str]:
        from mlx.backends.vertex.console import console_url

        return console_url(record)

    def list_states(self, records: list[JobRecord]) -> dict[str, JobStatus]:
        """One ``ListCustomJobs`` per project and location, filtered server-side by mlx's
        label and creation time, instead of one Get per job."""
        found: dict[str, JobStatus] = {}
        wanted = [r for r in records if r.kind == JobKind.TRAINING and r.native_id and r.location]
        for target in {target_of(r.location) for r in wanted}:
            mine = [r for r in wanted if target_of(r.location) == target]
            since = min(r.created_at for r in mine) - 3600  # mlx's clock against Vertex's
            request = {
                "parent": target.parent,
                "filter": f'labels.{JOB_LABEL}:* AND create_time>="{rfc3339(since)}"',
                "page_size": 100,
            }
            ids = {r.id for r in mine}
            with gcp_errors(f"ListCustomJobs in {target.parent}"):
                for job in self.clients(target).jobs.list_custom_jobs(
                    request=request, retry=self.backoff.retry()
                ):
                    if job.labels.get(JOB_LABEL) in ids:
                        found[job.labels[JOB_LABEL]] = job_status(job)
        return found

    def cancel(self, record: JobRecord) -> None:
        if record.is_trial:
            raise BackendError(
                f"{record.id} is one trial of {record.parent_id}: Vertex AI cancels whole "
                "tuning jobs",
                hint=f"`mlx cancel {record.parent_id}` stops every trial.",
            )
        jobs = self.record_clients(record).jobs
        tuning = record.is_tuning
        noun = "hyperparameter_tuning_job" if tuning else "custom_job"
        name = record.native_id
        with gcp_errors(f"Cancel{'HyperparameterTuningJob' if tuning else 'CustomJob'} {name}"):
            getattr(jobs, f"cancel_{noun}")(name=name, retry=self.backoff.retry())

    # -- logs --------------------------------------------------------------------------

    def logs(self, record: JobRecord, query: LogQuery) -> Iterator[LogLine]:
        if not record.native_id:
            return
        clients = self.record_clients(record)
        source = log_source(record)
        if record.is_trial:  # trials are recorded when mlx first sees them: later
            job = self._get(record, trial_native(record.native_id)[0], tuning=True)
            source = replace(source, created_at=job.create_time.timestamp())
        # The read quota is the project's, shared by every follower of this machine.
        with budget_for(f"cloud-logging-{source.project}", self.pacing) as budget:
            yield from follow(
                CloudLoggingReader(self._list_page(clients), source, query, budget),
                query,
                lambda: self.status(record).state.terminal,
                self.pacing,
                start=first_time(source, query),
            )

    def _list_page(self, clients: Clients) -> ListPage:
        """One ListLogEntries request per call (the pager's first page only: each page
        is a request the quota counts)."""
        retry = self.backoff.retry()
        logging = clients.logging  # made now: the quota's turn is taken just before a call

        def list_page(request: dict[str, Any]) -> tuple[Any, str]:
            with gcp_errors("ListLogEntries"):
                pager = logging.list_log_entries(request=request, retry=retry)
                page = next(iter(pager.pages))
            return page.entries, page.next_page_token

        return list_page

    # -- artifacts ---------------------------------------------------------------------

    def _store(self, clients: Clients) -> GcsStore:
        """The target's bucket, each call retried with the pacing's delays."""
        return GcsStore(clients.bucket(), self.backoff.storage_retry())

    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        prefix = artifact_prefix(record)
        store = self._store(self.record_clients(record))
        return list_under(store, prefix, lambda key: artifact_path(prefix, key))

    def list_artifacts_at(self, record: JobRecord, paths: list[str]) -> list[Artifact]:
        from mlx.transfer import narrowed

        prefix = artifact_prefix(record)
        store = self._store(self.record_clients(record))
        found = [
            artifact
            for listed in narrowed(prefix, "", paths)
            for artifact in list_under(store, listed, lambda key: artifact_path(prefix, key))
        ]
        return sorted(found, key=lambda a: a.path)

    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        store = self._store(self.record_clients(record))
        key = artifact_prefix(record) + artifact.path
        store.download(key, target, progress, size=artifact.size)

    def local_checksum(self, path: Path, artifact: Artifact) -> Optional[str]:
        return file_crc32c(path) if artifact.checksum else None

    def tensorboard_places(self, record: JobRecord) -> list[tuple[ObjectStore, str]]:
        # MLX_OUTPUT_DIR/tensorboard, and AIP_TENSORBOARD_LOG_DIR, which Vertex sets to
        # <baseOutputDirectory>/logs/ (layout.py) and a script may follow instead.
        store, prefix = self._store(self.record_clients(record)), artifact_prefix(record)
        return [(store, prefix + "output/tensorboard/"), (store, prefix + "logs/")]

    def store_at(self, record: JobRecord, uri: str) -> tuple[ObjectStore, str]:
        if not uri.startswith("gs://"):
            return super().store_at(record, uri)
        bucket, key = split_uri(uri)
        storage = self.record_clients(record).storage
        return GcsStore(storage.bucket(bucket), self.backoff.storage_retry()), key


def checked(plan: Plan) -> tuple[str, Any]:
    """The request's kind and message, parsed strictly; the plan's warnings shown."""
    from mlx.console import warn

    key = next(k for k in _KINDS if k in plan.request)
    message = parse_strictly(key, plan.request[key])
    for warning in plan.warnings:
        warn(warning)
    return key, message


def parse_strictly(key: str, body: dict[str, Any]) -> Any:
    """The request as its ``aiplatform_v1`` message; an unknown field is mlx's bug."""
    import json

    from google.cloud import aiplatform_v1
    from google.protobuf.json_format import ParseError

    cls = getattr(aiplatform_v1, _KINDS[key][0])
    try:
        return cls.from_json(json.dumps(body), ignore_unknown_fields=False)
    except ParseError as e:
        raise BackendError(f"the rendered {_KINDS[key][0]} does not parse: {e}") from e


def log_source(record: JobRecord) -> Source:
    project = record.location["project"]
    if record.is_trial:
        job_name, trial = trial_native(record.native_id or "")
        return Source(project, numeric_id(job_name), trial, record.created_at)
    return Source(project, numeric_id(record.native_id or ""), None, record.created_at)


def artifact_prefix(record: JobRecord) -> str:
    """The job's prefix in its bucket; a trial's is its tuning job's plus the trial id."""
    if record.info.get("adopted"):
        from mlx.backends.vertex.adopt import adopted_prefix

        return adopted_prefix(record)
    if record.is_trial:
        _, trial = trial_native(record.native_id or "")
        return Layout(record.location["bucket"], record.parent_id or "").trial_key(trial)
    return Layout(record.location["bucket"], record.id).job_key


def _objective(record: JobRecord, trial: TrialStatus) -> dict[str, float]:
    metric = ((record.spec.get("tune") or {}).get("objective") or {}).get("metric")
    return {metric: trial.objective} if metric and trial.objective is not None else {}
