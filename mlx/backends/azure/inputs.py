"""Local inputs of an Azure ML job: uploaded by mlx, as on the other clouds, and given to
the job as datastore URIs.

azure-ai-ml would upload a local input itself when it creates the job, but without a way
to see its progress (its own bar is tqdm's, on or off for the whole client) and under a
name only it computes. So mlx sends each local file or folder through the one transfer
path (``mlx.cloud.plan.send_uploads``: one progress display, content-addressed, skipped
when a finished copy is there) to ``mlx/inputs/<sha256>/`` on the spec's datastore, and the
job reads it as any datastore input: ``azureml://datastores/<datastore>/paths/<path>``, the
URI form a ``uri_file``/``uri_folder`` input takes (https://learn.microsoft.com/azure/
machine-learning/how-to-read-write-data-v2#paths). The code snapshot stays azure-ai-ml's:
the job's ``code`` must be a code asset, which it names by content hash and registers.
"""

from __future__ import annotations

from typing import Optional

from mlx.backends.azure.settings import settings_of
from mlx.cloud.objects import tree_digest
from mlx.cloud.plan import Upload
from mlx.spec import JobSpec


def input_upload(spec: JobSpec, name: str) -> Optional[Upload]:
    """The upload of input ``name`` when it is a local path; None for a remote URI."""
    local = spec.local_input_path(name)
    if local is None:
        return None
    datastore = settings_of(spec).datastore
    prefix = f"azureml://datastores/{datastore}/paths/mlx/inputs/{tree_digest(local)}/"
    return Upload(local, prefix)


def input_uri(upload: Upload) -> str:
    """What the job reads: the folder's prefix, or the file in it (``local_files`` puts a
    file under its own name)."""
    return upload.uri if upload.source.is_dir() else upload.uri + upload.source.name


def local_uploads(spec: JobSpec) -> list[Upload]:
    found = (input_upload(spec, name) for name in spec.inputs)
    return [upload for upload in found if upload is not None]
