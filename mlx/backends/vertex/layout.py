"""Where things are: a job's Cloud Storage prefix, and the same places under ``/gcs/``.

One prefix per job, ``gs://<bucket>/mlx/<job>/``, the job's ``baseOutputDirectory``::

    <job>/model/ checkpoints/ logs/   Vertex's AIP_MODEL_DIR, AIP_CHECKPOINT_DIR and
                                      AIP_TENSORBOARD_LOG_DIR
    <job>/output/                     MLX_OUTPUT_DIR (the model dir's sibling)
    <job>/<trial>/model/ ...          the same, per trial, in tuning jobs
    <job>/mlx/                        mlx's own: the bootstrap zipapp, runtime.json, code/,
                                      metrics.jsonl (not listed as artifacts)

Local inputs are staged once by content under ``gs://<bucket>/mlx/inputs/<sha256>/``.
Vertex mounts the bucket at ``/gcs/<bucket>/`` in every replica (Cloud Storage FUSE), so
the bootstrap, the code and the inputs reach the job without touching its image.
"""

from __future__ import annotations

from typing import Optional

from mlx.backends.vertex.in_job import gcs_path
from mlx.cloud import layout as cloud_layout

PREFIX = "mlx"
STAGING = "mlx"  # inside a job's prefix
METRICS_NAME = "metrics.jsonl"
CODE_DIR = "code"


class Layout(cloud_layout.Layout):
    """The Cloud Storage locations of job ``job_id`` in ``bucket``."""

    def __init__(self, bucket: str, job_id: str) -> None:
        super().__init__("gs", bucket, PREFIX, job_id, STAGING)

    @property
    def metrics_uri(self) -> str:
        return self.staging_uri + METRICS_NAME

    @property
    def code_uri(self) -> str:
        return self.uri(self.job_id, STAGING, CODE_DIR)

    def trial_key(self, trial: str) -> str:
        """A tuning trial's prefix: Vertex appends the trial id to baseOutputDirectory."""
        return f"{self.job_key}{trial}/"


def artifact_path(prefix: str, key: str) -> Optional[str]:
    """``key``'s path among the artifacts under ``prefix``; None for mlx's own files."""
    path = key[len(prefix) :]
    return None if path.split("/", 1)[0] == STAGING else path


def mounted(uri: str) -> str:
    """Where ``uri`` is inside the job: ``gs://b/k`` -> ``/gcs/b/k``."""
    return gcs_path(uri)
