"""The SageMaker backend: plain boto3 against SageMaker, S3 and CloudWatch Logs.

The mlx job id is the training job's name, so creating is idempotent: a create whose
answer was lost (a timeout, a dropped connection, botocore's own retry answering
``ResourceInUse``) is settled by looking the job up by name before trying again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from mlx.backends.base import Backend
from mlx.backends.common import masked_secrets, resolve_secrets
from mlx.backends.sagemaker import adopt, archive
from mlx.backends.sagemaker.artifacts import ArtifactRoot
from mlx.backends.sagemaker.clients import (
    AwsClients,
    aws_errors,
    is_in_use,
    is_lost_answer,
    is_not_found,
)
from mlx.backends.sagemaker.layout import Layout
from mlx.backends.sagemaker.logs import CloudWatchReader, stream_prefix
from mlx.backends.sagemaker.objects import S3Store, local_etag
from mlx.backends.sagemaker.render import SageMakerPlan, training_plan
from mlx.backends.sagemaker.settings import SageMakerSettings, settings_of
from mlx.backends.sagemaker.states import training_status, tuning_status
from mlx.backends.sagemaker.tuning import trial_status, tuning_plan, with_region
from mlx.cloud.clients import ClientCache, environment
from mlx.cloud.create import backoff, create_once
from mlx.cloud.follow import follow
from mlx.cloud.layout import split_uri
from mlx.cloud.objects import ObjectStore, list_under
from mlx.cloud.plan import stage
from mlx.errors import MlxError
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
from mlx.spec import JobSpec

if TYPE_CHECKING:
    from mlx.runner.host import Stores
    from mlx.transfer import PullResult


class SageMakerBackend(Backend):
    name = "sagemaker"

    def __init__(self) -> None:
        self._clients: ClientCache[AwsClients] = ClientCache()

    # -- clients -----------------------------------------------------------------------

    def clients(self, settings: SageMakerSettings, region: Optional[str] = None) -> AwsClients:
        """The clients for these settings, made once: boto3 clients keep their connections.

        Keyed by all that picks an endpoint or a credential: region, profile, endpoints,
        retries, and the ``AWS_*`` variables boto3 reads (``AWS_ENDPOINT_URL``, keys...).
        """
        region = region or settings.region
        endpoints = {str(service): url for service, url in settings.endpoints.items()}
        key = (region, settings.profile, tuple(sorted(endpoints.items())), settings.max_attempts)
        return self._clients.get(
            (*key, environment("AWS_")),
            lambda: AwsClients(region, settings.profile, endpoints, settings.max_attempts),
        )

    def record_clients(self, record: JobRecord) -> AwsClients:
        settings = SageMakerSettings.model_validate(record.spec.get("sagemaker") or {})
        return self.clients(settings, record.location.get("region"))

    # -- render and submit -------------------------------------------------------------

    def render(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        plan = training_plan(spec, job_id, masked_secrets(spec))
        _warn(plan)
        return plan.request

    def render_tuning(self, spec: JobSpec, job_id: str) -> dict[str, Any]:
        plan = tuning_plan(spec, job_id, masked_secrets(spec))
        _warn(plan)
        return plan.request

    def native_tuner_gap(self, spec: JobSpec) -> Optional[str]:
        from mlx.backends.sagemaker.framework_images import native_tuner_gap

        return native_tuner_gap(spec.image or "")

    def submit(self, spec: JobSpec, job_id: str) -> Submission:
        plan = training_plan(spec, job_id, resolve_secrets(spec))
        aws = self._prepare(spec, plan)
        sm = aws.sagemaker
        self._create(
            f"CreateTrainingJob {job_id}",
            lambda: sm.create_training_job(**plan.request),
            lambda: _describe(sm, job_id, tuning=False),
        )
        return _submission(job_id, plan.layout, aws)

    def submit_tuning(self, spec: JobSpec, job_id: str) -> Submission:
        plan = tuning_plan(spec, job_id, resolve_secrets(spec))
        aws = self._prepare(spec, plan)
        with_region(plan.request, aws.region)
        sm, name = aws.sagemaker, plan.request["HyperParameterTuningJobName"]
        self._create(
            f"CreateHyperParameterTuningJob {name}",
            lambda: sm.create_hyper_parameter_tuning_job(**plan.request),
            lambda: _describe(sm, name, tuning=True),
        )
        return _submission(name, plan.layout, aws)

    def stage_rehearsal(
        self, spec: JobSpec, job_id: str, kind: JobKind, stores: Stores
    ) -> dict[str, Any]:
        """Stage into ``stores`` what submit stages in S3 (the same plan, the same ``stage``),
        and return the request submit would send."""
        tuning = kind == JobKind.TUNING
        plan = (tuning_plan if tuning else training_plan)(spec, job_id, resolve_secrets(spec))
        _warn(plan)
        store, _ = stores(plan.layout.job_uri)
        stage(store, plan)
        if tuning:
            with_region(plan.request, plan.target or "us-east-1")
        return plan.request

    def _prepare(self, spec: JobSpec, plan: SageMakerPlan) -> AwsClients:
        """Warn about the instance choice, then stage inputs, code, bootstrap and config."""
        _warn(plan)
        aws = self.clients(settings_of(spec), plan.target)
        stage(S3Store(aws.s3, plan.layout.bucket), plan)
        return aws

    def _create(self, what: str, create: Callable[[], Any], find: Callable[[], Any]) -> None:
        """``create`` a job by its unique name, once (``mlx.cloud.create``): after a dropped
        connection or a timeout, or botocore's retry answering ``ResourceInUse``, ``find``
        (a describe by name) settles whether the job exists."""
        pacing = self.pacing
        with aws_errors(what):
            create_once(
                what,
                create,
                find,
                is_lost=is_lost_answer,
                exists=is_in_use,
                attempts=pacing.create_attempts,
                delay=backoff(pacing),
            )

    # -- state -------------------------------------------------------------------------

    def status(self, record: JobRecord) -> JobStatus:
        sm = self.record_clients(record).sagemaker
        name = record.native_id or record.id
        missing = f"SageMaker has no job {name!r}"
        if record.is_tuning:
            with aws_errors(f"DescribeHyperParameterTuningJob {name}", missing=missing):
                job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            return tuning_status(job)
        with aws_errors(f"DescribeTrainingJob {name}", missing=missing):
            return training_status(sm.describe_training_job(TrainingJobName=name))

    def console_url(self, record: JobRecord) -> Optional[str]:
        from mlx.backends.sagemaker.console import console_url

        return console_url(record)

    def list_states(self, records: list[JobRecord]) -> dict[str, JobStatus]:
        from mlx.backends.sagemaker.list_states import list_states

        return list_states(self, records)

    def list_trials(self, record: JobRecord) -> list[TrialStatus]:
        sm = self.record_clients(record).sagemaker
        pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName=record.native_id,
            SortBy="CreationTime",
            SortOrder="Ascending",
            PaginationConfig={"PageSize": 100},
        )
        with aws_errors(f"ListTrainingJobsForHyperParameterTuningJob {record.native_id}"):
            rows = [row for page in pages for row in page["TrainingJobSummaries"]]
        return [trial_status(row, i) for i, row in enumerate(rows)]

    def cancel(self, record: JobRecord) -> None:
        sm = self.record_clients(record).sagemaker
        name = record.native_id or record.id
        if record.is_tuning:
            with aws_errors(f"StopHyperParameterTuningJob {name}"):
                sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            return
        with aws_errors(f"StopTrainingJob {name}"):
            sm.stop_training_job(TrainingJobName=name)

    def adopt(self, native_id: str) -> dict[str, Any]:
        return adopt.describe_for_adoption(self, native_id)

    def list_remote(self, limit: int) -> list[Any]:
        return adopt.list_remote(self, limit)

    def find_by_mlx_id(self, record: JobRecord) -> Optional[Submission]:
        """The job is named after its mlx id: a describe by name says whether it exists."""
        from mlx.backends.sagemaker.render import layout_for
        from mlx.backends.sagemaker.tuning import tuning_name
        from mlx.spec import spec_from_record

        spec = spec_from_record(record.spec, record.info["base_dir"], record.info["source"])
        aws = self.clients(settings_of(spec))
        sm, tuning = aws.sagemaker, record.is_tuning
        name = tuning_name(record.id) if tuning else record.id
        found = _describe(sm, name, tuning=tuning)
        return _submission(name, layout_for(spec, record.id), aws) if found else None

    # -- logs --------------------------------------------------------------------------

    def logs(self, record: JobRecord, query: LogQuery) -> Iterator[LogLine]:
        if record.is_tuning:
            raise MlxError(
                f"{record.id} is a tuning job: its logs are its trials' logs",
                hint=f"`mlx logs {record.id} --trial N` (or --trial best).",
            )
        aws = self.record_clients(record)
        prefix = stream_prefix(record.native_id or record.id, query.node)
        yield from follow(
            CloudWatchReader(aws.logs, prefix),
            query,
            lambda: self.status(record).state.terminal,
            self.pacing,
            # Clocks differ, and CloudWatch keeps the nodes' event times.
            start=query.since if query.since is not None else record.created_at - 3600,
        )

    # -- artifacts ---------------------------------------------------------------------

    def artifact_root(self, record: JobRecord) -> ArtifactRoot:
        if record.info.get("adopted"):  # an uncompressed model: the model prefix itself
            bucket, key = split_uri(adopt.model_uri(self, record))
            return ArtifactRoot(bucket, key.rstrip("/") + "/", "")
        owner = record.parent_id if record.is_trial else record.id
        location = record.location
        return ArtifactRoot(
            location["bucket"],
            f"{location['prefix']}/{owner}/",
            record.native_id or record.id,
            trial=record.is_trial,
        )

    def list_artifacts(self, record: JobRecord) -> list[Artifact]:
        s3 = self.record_clients(record).s3
        uri = self._archive(record)
        if uri:
            bucket, key = split_uri(uri)
            return archive.list_members(S3Store(s3, bucket), key)
        where = self.artifact_root(record)
        return list_under(S3Store(s3, where.bucket), where.root, where.path_of)

    def list_artifacts_at(self, record: JobRecord, paths: list[str]) -> list[Artifact]:
        from mlx.transfer import narrowest

        if self._archive(record):
            return self.list_artifacts(record)
        where = self.artifact_root(record)
        store = S3Store(self.record_clients(record).s3, where.bucket)
        # A path is a file or a folder, whose keys may sit elsewhere (model/ -> output/model/)
        keys = narrowest([where.key_of(p + end) for p in paths for end in ("", "/")])
        found = {a.path: a for key in keys for a in list_under(store, key, where.path_of)}
        return sorted(found.values(), key=lambda a: a.path)

    def download(
        self, record: JobRecord, artifact: Artifact, target: Path, progress: Progress
    ) -> None:
        where = self.artifact_root(record)
        store = S3Store(self.record_clients(record).s3, where.bucket)
        key = where.key_of(artifact.path)
        if not store.download(key, target, progress, artifact.checksum, size=artifact.size):
            self._opaque_etags.add(target)  # encrypted: its ETag says nothing of the bytes

    def local_checksum(self, path: Path, artifact: Artifact) -> Optional[str]:
        if not artifact.checksum or path in self._opaque_etags:
            return None
        return local_etag(path, artifact.checksum)

    def tensorboard_places(self, record: JobRecord) -> list[tuple[ObjectStore, str]]:
        # A training job's TensorBoardOutputConfig upload (render.py); a tuning trial has
        # none (its definition has no such field), nor has an adopted job mlx cannot see.
        if record.is_trial or record.info.get("adopted"):
            return []
        where = self.artifact_root(record)
        store = S3Store(self.record_clients(record).s3, where.bucket)
        return [(store, where.key_of("output/tensorboard/"))]

    def store_at(self, record: JobRecord, uri: str) -> tuple[ObjectStore, str]:
        try:
            bucket, key = split_uri(uri)
        except ValueError:
            return super().store_at(record, uri)
        return S3Store(self.record_clients(record).s3, bucket), key

    @functools.cached_property
    def _opaque_etags(self) -> set[Path]:
        """Downloaded files whose ETag is no digest of their bytes (not to be verified)."""
        return set()

    def pull_many(
        self,
        record: JobRecord,
        include: list[str],
        exclude: list[str],
        dest: Path,
        show_progress: bool,
    ) -> Optional[PullResult]:
        uri = self._archive(record)
        if uri is None:
            return None
        s3 = self.record_clients(record).s3
        return adopt.pull_archive(s3, record, uri, (include, exclude), dest, show_progress)

    def _archive(self, record: JobRecord) -> Optional[str]:
        """The model.tar.gz of a job mlx did not launch; None for mlx's own jobs."""
        if not record.info.get("adopted"):
            return None
        uri = adopt.model_uri(self, record)
        return uri if adopt.is_archive(uri) else None


def _warn(plan: SageMakerPlan) -> None:
    """What the user should know about the request (the machine picked, settings that do
    nothing on it), on stderr: with ``translate`` as with a submit."""
    from mlx.console import warn

    for warning in plan.warnings:
        warn(warning)


def _describe(sm: Any, name: str, *, tuning: bool) -> Optional[dict[str, Any]]:
    """The job named ``name`` (mlx's id), or None when SageMaker has none: how a create
    whose answer was lost, and a submit that mlx did not live to record, are settled."""
    from botocore.exceptions import ClientError

    call = "DescribeHyperParameterTuningJob" if tuning else "DescribeTrainingJob"
    with aws_errors(f"{call} {name}"):
        try:
            if tuning:
                return sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            return sm.describe_training_job(TrainingJobName=name)
        except ClientError as e:
            if is_not_found(e):
                return None
            raise


def _submission(native_id: str, where: Layout, aws: AwsClients) -> Submission:
    return Submission(
        native_id=native_id,
        artifacts_uri=where.job_uri,
        location={"region": aws.region, "bucket": where.bucket, "prefix": where.prefix},
    )
