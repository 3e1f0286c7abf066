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

from dataclasses import dataclass

from mlx.runtime.vertex import gcs_path

PREFIX = "mlx"
STAGING = "mlx"  # inside a job's prefix
BOOTSTRAP_NAME = "mlx-bootstrap.pyz"
RUNTIME_NAME = "runtime.json"
METRICS_NAME = "metrics.jsonl"
CODE_DIR = "code"


@dataclass(frozen=True)
class Layout:
    """The Cloud Storage locations of job ``job_id`` in ``bucket``."""

    bucket: str
    job_id: str

    def uri(self, *parts: str) -> str:
        """``gs://bucket/mlx/<parts...>/`` (a prefix: trailing slash)."""
        return f"gs://{self.bucket}/" + "".join(f"{p.strip('/')}/" for p in (PREFIX, *parts))

    @property
    def job_uri(self) -> str:
        return self.uri(self.job_id)

    @property
    def job_key(self) -> str:
        return f"{PREFIX}/{self.job_id}/"

    @property
    def staging_uri(self) -> str:
        return self.uri(self.job_id, STAGING)

    @property
    def bootstrap_uri(self) -> str:
        return self.staging_uri + BOOTSTRAP_NAME

    @property
    def runtime_uri(self) -> str:
        return self.staging_uri + RUNTIME_NAME

    @property
    def metrics_uri(self) -> str:
        return self.staging_uri + METRICS_NAME

    @property
    def code_uri(self) -> str:
        return self.uri(self.job_id, STAGING, CODE_DIR)

    def input_uri(self, digest: str) -> str:
        return self.uri("inputs", digest)

    def trial_key(self, trial: str) -> str:
        """A tuning trial's prefix: Vertex appends the trial id to baseOutputDirectory."""
        return f"{self.job_key}{trial}/"


def split_gs(uri: str) -> tuple[str, str]:
    """``gs://bucket/a/b`` -> ``("bucket", "a/b")``."""
    bucket, _, key = uri[len("gs://") :].partition("/")
    return bucket, key


def mounted(uri: str) -> str:
    """Where ``uri`` is inside the job: ``gs://b/k`` -> ``/gcs/b/k``."""
    return gcs_path(uri)
