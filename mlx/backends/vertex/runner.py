"""Vertex AI's platform runner: a ``CustomJob`` or ``HyperparameterTuningJob`` request run
on this machine the way Vertex runs its containers (``mlx.runner``).

A ``CustomJob`` (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec):

- ``workerPoolSpecs[i]`` starts ``replicaCount`` replicas of its container: pool 0 is the
  primary replica, pool 1 the workers (https://cloud.google.com/vertex-ai/docs/training/
  distributed-training#configure_a_distributed_training_job); an empty pool is skipped.
- Each replica runs ``containerSpec.command`` (in place of the image's entrypoint) with
  ``containerSpec.args``, and ``containerSpec.env`` in its environment (ContainerSpec,
  https://cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec#ContainerSpec).
- Cloud Storage is mounted at ``/gcs/<bucket>/`` (``mount.GcsMount``).
- Vertex's variables: ``AIP_MODEL_DIR``, ``AIP_CHECKPOINT_DIR``, ``AIP_TENSORBOARD_LOG_DIR``
  = ``<baseOutputDirectory>/model/``, ``checkpoints/``, ``logs/`` (CustomJobSpec's
  ``baseOutputDirectory``); ``CLUSTER_SPEC`` on every replica (``cluster``: each pool's
  ``host:port`` addresses, ``task``: this replica's pool ``type``, ``index`` and, in a
  tuning job, ``trial``; https://cloud.google.com/vertex-ai/docs/training/
  distributed-training#cluster-spec-format); ``CLOUD_ML_JOB_ID`` (googleapis/
  python-aiplatform, google/cloud/aiplatform/training_utils/environment_variables.py).
- The job is ``JOB_STATE_RUNNING`` once its replicas run; it succeeds when the primary
  replica exits with 0, and the other replicas are then shut down; a replica that exits
  with another code ("user code exception") shuts down every replica and fails the job
  with "The replica <name> exited with a non-zero status of <code>. Termination reason:
  <reason>." (https://cloud.google.com/vertex-ai/docs/training/understanding-training-service).
- ``CancelCustomJob`` stops it: state ``JOB_STATE_CANCELLED``, ``error.code`` 1
  (https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.customJobs/cancel).
- Every line a replica prints goes to Cloud Logging under its task name
  (``workerpool0-0``); stderr arrives with severity ERROR
  (GoogleCloudPlatform/vertex-ai-samples#242): ``Where.channel`` says which.

Tuning jobs: ``tuner.py``. The runner reports to its host with ``host.event``:
``running`` ({"state"}), ``trial-started`` / ``trial-ended`` ({"trial": a ``Trial`` as
REST JSON}) and ``ended`` ({"state", "error"}), in Vertex's words.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from mlx.backends.vertex.mount import GcsMount
from mlx.backends.vertex.replicas import _made, base_output, job_metrics, reads, run_spec
from mlx.backends.vertex.tuner import run_tuning
from mlx.runner.host import Host, Outcome

_OUTCOMES = {
    "JOB_STATE_SUCCEEDED": "succeeded",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
}


class VertexRunner:
    """Runs Vertex requests (``Provider.runner``); ``job_id``: the job's numeric id, which
    ``CLOUD_ML_JOB_ID`` and the log entries carry (a rehearsal has none: one is made)."""

    def __init__(self, job_id: Optional[str] = None) -> None:
        self.job_id = job_id

    def native_id(self, job: dict[str, Any]) -> str:
        if self.job_id:
            return self.job_id
        digest = hashlib.sha256(str(job.get("displayName")).encode()).hexdigest()
        return str(int(digest[:15], 16))

    def run_training(self, request: dict[str, Any], host: Host) -> Outcome:
        job = request["customJob"]
        spec = job["jobSpec"]
        workspace = Path(tempfile.mkdtemp(prefix="vertex-", dir=_made(host.workspace)))
        mount = GcsMount(host.store, workspace)
        try:
            mounts = mount.prepare(reads(spec))
            ended = run_spec(spec, self.native_id(job), host, mounts, workspace)
        finally:
            mount.sync()
            mount.close()
            shutil.rmtree(workspace, ignore_errors=True)
        host.event("ended", {"state": ended.state, "error": ended.error})
        return Outcome(
            state=_OUTCOMES[ended.state],
            reason=(ended.error or {}).get("message"),
            exit_codes=ended.exit_codes,
            metrics=job_metrics(host, base_output(spec)),
            artifacts_uri=base_output(spec),
        )

    def run_tuning(self, request: dict[str, Any], host: Host) -> Outcome:
        job = request["hyperparameterTuningJob"]
        return run_tuning(job, self.native_id(job), host)
