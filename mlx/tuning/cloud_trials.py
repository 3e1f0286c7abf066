"""Trials of mlx's engine on a cloud (``tune.engine: mlx``): each a training job.

The driver (``mlx.tuning.driver``) asks Optuna for parameters as in local tuning; here a
trial is submitted through the cloud backend's ``submit`` exactly as ``mlx train`` would
(on SageMaker a ``CreateTrainingJob`` with ``ContainerEntrypoint``, so any image works),
in a thread per trial, which then follows the trial's logs and parses the spec's metrics
from its lines with the bootstrap's own parser (``mlx.runtime.metrics.MetricParser``),
writing them to ``$MLX_HOME/jobs/<trial>/metrics.jsonl``: the file a local trial's
bootstrap writes. So the driver feeds the pruner, and the live table shows running
trials' values, the same way for both. A pruned or cancelled trial is stopped on the cloud.

Nothing is created twice: the trial's row is written (pending, no provider id) before the
create; a create whose answer was lost is settled by the backend's lookup by mlx id
(``mlx.cloud.create.create_once``); a driver that died is followed by one that looks up
every row it left without a provider id the same way (``Backend.find_by_mlx_id``) and
watches again every trial that has one, rather than submitting it again.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

from mlx import providers
from mlx.errors import MlxError, OutcomeUnknown
from mlx.model import JobRecord, JobState, LogQuery, Submission
from mlx.spec import JobSpec, spec_from_record
from mlx.store import Store
from mlx.submissions import record_submission
from mlx.tuning.engine_backend import ENGINE, as_training
from mlx.tuning.local_trials import trial_record

NEVER_CREATED = "the tuning driver stopped before the trial's job was created"


def spec_of(record: JobRecord) -> JobSpec:
    return spec_from_record(record.spec, record.info["base_dir"], record.info["source"])


class CloudTrials:
    """Trials of tuning job ``parent`` as training jobs on its provider."""

    def __init__(
        self, home: Path, store: Store, parent: JobRecord, say: Callable[[str], None]
    ) -> None:
        self.home, self.store, self.parent, self.say = home, store, parent, say
        self.cloud = providers.backend_for(parent.provider)

    def metrics_file(self, job_id: str) -> Path:
        return self.home / "jobs" / job_id / "metrics.jsonl"

    def record(self, job_id: str, spec: JobSpec, info: dict[str, Any]) -> JobRecord:
        """Pending, without a provider id until the create is answered; with what a lookup
        by mlx id needs (the spec's folder) and who submits it."""
        submitter = {"pid": os.getpid(), "host": socket.gethostname()}
        info = {
            **info,
            "base_dir": self.parent.info["base_dir"],
            "source": self.parent.info["source"],
            "submitter": submitter,
        }
        return trial_record(self.parent, job_id, spec, location={"engine": ENGINE}, info=info)

    def start(self, spec: JobSpec, job_id: str, wake: threading.Event) -> CloudRun:
        return CloudRun(self, job_id, wake, spec)

    def reattach(self, job_id: str, wake: threading.Event) -> Optional[CloudRun]:
        """A trial the dead driver left running: watched again, never submitted again.
        One whose create was never answered is looked up by mlx's id first (in its run's
        thread): a job found is watched, none found means it never ran (it is marked
        ``interrupted``, and the driver runs a new trial instead). None: the driver died
        between asking Optuna and writing the row."""
        try:
            self.store.get(job_id)
        except MlxError:
            return None
        return CloudRun(self, job_id, wake)

    def submitted(self, record: JobRecord, submission: Submission) -> JobRecord:
        """Record the cloud's job of trial ``record``, marked as the engine's."""
        location = {**submission.location, "engine": ENGINE}
        return record_submission(record, replace(submission, location=location), self.store)


class CloudRun:
    """One trial's training job: submitted (unless it exists), followed to its end."""

    def __init__(
        self,
        trials: CloudTrials,
        job_id: str,
        wake: threading.Event,
        spec: Optional[JobSpec] = None,
    ) -> None:
        self.trials, self.job_id, self.spec = trials, job_id, spec
        self.metrics_file = trials.metrics_file(job_id)
        self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        # The logs are read from their start, also after a reattach: the file anew.
        self.metrics_file.write_text("")
        self.done = threading.Event()
        self.stopping: Optional[str] = None
        self._stop_lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(wake,), daemon=True)
        self.thread.start()

    @property
    def store(self) -> Store:
        return self.trials.store

    # -- the driver's side -------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Stop the trial's job on the cloud; returns at once (the driver's SIGTERM
        handler calls it), the call is made in a thread."""
        with self._stop_lock:
            if self.stopping is not None:
                return
            self.stopping = reason
        threading.Thread(target=self._cancel, daemon=True).start()

    def close(self) -> None:
        self.thread.join()

    # -- the trial's thread ------------------------------------------------------------

    def _run(self, wake: threading.Event) -> None:
        try:
            record = self.store.get(self.job_id)
            if not record.native_id and self.spec is not None:
                record = self._submit(record, self.spec)
            elif not record.native_id:  # reattached: its create was never answered
                record = self._settle(record, NEVER_CREATED)
            if record.native_id:
                self._follow(record)
                self._conclude()
        except Exception as e:  # a bug or a provider that stopped answering: this trial fails
            message = e.message if isinstance(e, MlxError) else f"{type(e).__name__}: {e}"
            self.store.update(
                self.job_id, unless_ended=True, state=JobState.FAILED, message=message
            )
        finally:
            self.done.set()
            wake.set()

    def _submit(self, record: JobRecord, spec: JobSpec) -> JobRecord:
        """``submit`` as ``mlx train`` does; an answer lost for good leaves the trial to be
        settled by a lookup, never created again."""
        from mlx.backends.common import mask_secret_values

        if self.stopping:
            self.store.update(self.job_id, state=JobState.CANCELLED, message=self.stopping)
            return record
        try:
            submission = self.trials.cloud.submit(spec, self.job_id)
        except OutcomeUnknown:
            return self._settle(record, "the create never reached the provider")
        except MlxError as e:
            message = mask_secret_values(e.message, spec)
            self.store.update(self.job_id, state=JobState.FAILED, message=message)
            return record
        record = self.trials.submitted(record, submission)
        if self.stopping:  # stopped while its create was on its way
            self._cancel()
        return record

    def _settle(self, record: JobRecord, never: str) -> JobRecord:
        """Whether the trial's job exists, asked by mlx's id (``Backend.find_by_mlx_id``)
        until the cloud answers: found, it is the trial's job; not found, it never ran
        (``never`` says why) and is marked ``interrupted``, to be run again."""
        asked = False
        while not self.stopping:
            try:
                found = self.trials.cloud.find_by_mlx_id(as_training(record))
            except MlxError as e:
                if not asked:
                    self.trials.say(f"{self.job_id}: looking its job up failed ({e.message})")
                asked = True
                time.sleep(self.trials.cloud.pacing.poll)
                continue
            if found is not None:
                return self.trials.submitted(record, found)
            info = {**record.info, "interrupted": True}
            self.store.update(
                self.job_id, unless_ended=True, state=JobState.FAILED, message=never, info=info
            )
            return self.store.get(self.job_id)
        message = f"{self.stopping} before mlx could tell whether its job was created"
        self.store.update(self.job_id, unless_ended=True, state=JobState.CANCELLED, message=message)
        return self.store.get(self.job_id)

    def _follow(self, record: JobRecord) -> None:
        """The trial's lines until its job ends, the spec's metrics parsed from them."""
        from mlx.runtime.metrics import JsonLinesReporter, MetricParser

        spec = self.spec or spec_of(record)
        parser = MetricParser([{"name": m.name, "regex": m.pattern} for m in spec.metrics])
        reporter = JsonLinesReporter(str(self.metrics_file))
        view = as_training(record)
        running = False
        try:
            for line in self.trials.cloud.logs(view, LogQuery(follow=True)):
                if not running:  # a line: its command runs
                    self.store.update(self.job_id, unless_ended=True, state=JobState.RUNNING)
                    running = True
                for metric in parser.feed(line.text):
                    reporter.report(metric)
        except MlxError as e:
            self.trials.say(f"{self.job_id}: its logs stopped ({e.message}); waiting for its end")
            self._wait(view)
        finally:
            reporter.close()  # a search of 500 trials keeps no file open per trial

    def _wait(self, view: JobRecord) -> None:
        while not self.trials.cloud.status(view).state.terminal:
            time.sleep(self.trials.cloud.pacing.poll)

    def _conclude(self) -> None:
        """Record the job's end as the cloud tells it (state, reason, final metrics)."""
        from mlx import lifecycle

        record = self.store.get(self.job_id)
        lifecycle.refresh(record, self.store, self.trials.cloud.status(as_training(record)))

    def _cancel(self) -> None:
        """Stop the trial's job. SageMaker: ``StopTrainingJob`` sends the container SIGTERM
        and the job goes Stopping -> Stopped (https://docs.aws.amazon.com/sagemaker/latest/
        APIReference/API_StopTrainingJob.html); Vertex AI: ``CancelCustomJob`` starts an
        asynchronous, best-effort cancel ending in CANCELLED, or the job completes anyway
        (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.
        customJobs/cancel); Azure ML: ``Jobs - Cancel`` cancels the job asynchronously
        (https://learn.microsoft.com/en-us/javascript/api/@azure/arm-machinelearning/jobs).
        Either way the trial's state is the job's, as its follow sees it end."""
        record = self.store.get(self.job_id)
        if not record.native_id or record.state.terminal:
            return
        try:
            self.trials.cloud.cancel(as_training(record))
        except MlxError as e:  # it ended meanwhile, or the cloud did not answer
            self.trials.say(f"{self.job_id}: stopping it failed: {e.message}")
