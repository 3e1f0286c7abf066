"""Where a job's files go in an object store: one prefix per job, the same on every cloud.

``<scheme>://<bucket>/<prefix>/<job>/`` holds the job's outputs and, in its staging
directory, mlx's own files (the bootstrap zipapp and ``runtime.json``); local inputs are
staged once by content under ``<prefix>/inputs/<sha256>/``. Each provider's layout module
builds on ``Layout`` and adds its container paths and its own places (SageMaker's
checkpoints prefix, Vertex's metrics file).
"""

from __future__ import annotations

from dataclasses import dataclass

BOOTSTRAP_NAME = "mlx-bootstrap.pyz"
RUNTIME_NAME = "runtime.json"
SCHEMES = ("s3", "gs")


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` or ``gs://bucket/a/b`` -> ``("bucket", "a/b")``.

    Raises:
        ValueError: ``uri`` is not an ``s3://`` or ``gs://`` URI.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ValueError(f"not an s3:// or gs:// URI: {uri!r}")
    bucket, _, key = rest.partition("/")
    return bucket, key


def split_any_uri(uri: str) -> tuple[str, str, str]:
    """``(scheme, bucket, key)`` of ``s3://b/k``, ``gs://b/k`` and Azure ML's
    ``azureml://datastores/<datastore>/paths/<path>`` (the datastore is the bucket)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise ValueError(f"not a storage URI: {uri!r}")
    if scheme == "azureml" and rest.startswith("datastores/"):
        datastore, _, path = rest[len("datastores/") :].partition("/paths/")
        return scheme, datastore, path
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


@dataclass(frozen=True)
class Layout:
    """The locations of job (or tuning job) ``job_id`` in ``bucket`` under ``prefix``.

    Every ``*_uri`` is a prefix (trailing slash) unless it names one file; ``*_key`` is the
    same place as an object key in ``bucket``.
    """

    scheme: str  # "s3", "gs"
    bucket: str
    prefix: str  # without slashes at either end: "mlx"
    job_id: str
    staging: str = "_mlx"  # the job's directory of mlx's own files

    def uri(self, *parts: str) -> str:
        """``<scheme>://bucket/prefix/<parts...>/`` (a prefix: trailing slash)."""
        names = "".join(f"{p.strip('/')}/" for p in (self.prefix, *parts))
        return f"{self.scheme}://{self.bucket}/{names}"

    @property
    def job_uri(self) -> str:
        return self.uri(self.job_id)

    @property
    def job_key(self) -> str:
        return f"{self.prefix}/{self.job_id}/"

    @property
    def staging_uri(self) -> str:
        return self.uri(self.job_id, self.staging)

    @property
    def bootstrap_uri(self) -> str:
        return self.staging_uri + BOOTSTRAP_NAME

    @property
    def runtime_uri(self) -> str:
        return self.staging_uri + RUNTIME_NAME

    def input_uri(self, digest: str) -> str:
        """Where a local input (or code dir) with content digest ``digest`` is staged."""
        return self.uri("inputs", digest)
