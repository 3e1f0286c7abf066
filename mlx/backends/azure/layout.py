"""Where things are on Azure ML: the code snapshot, the datastore paths, the log blobs.

- The code snapshot is the user's ``code`` dir plus ``.mlx/mlx-bootstrap.pyz``; the per-job
  runtime config travels in the ``MLX_RUNTIME_CONFIG`` variable, not in the snapshot, so an
  unchanged code dir has the same content hash and azure-ai-ml does not upload it again.
- Artifacts: ``azureml://datastores/<datastore>/paths/mlx/<job>/{model,checkpoints,output}/``;
  a sweep's trials each under their own name (``${{name}}`` in the output path).
- Logs: Azure ML writes them under ``ExperimentRun/dcid.<run id>/`` in the workspace's
  ``workspaceartifactstore``: ``user_logs/std_log_process_<N>.txt``, one per process
  (older runtimes: ``azureml-logs/70_driver_log_<N>.txt``).
"""

from __future__ import annotations

import re

BOOTSTRAP = ".mlx/mlx-bootstrap.pyz"
RUNTIME_ENV = "MLX_RUNTIME_CONFIG"
TAG = "mlx-job-id"
ARTIFACT_STORE = "workspaceartifactstore"
LOG_DIRS = ("user_logs/", "azureml-logs/")
SCHEMAS = {
    "command": "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
    "sweep": "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json",
}


def artifact_prefix(native_id: str) -> str:
    """The job's (or trial's) prefix in its datastore, with a trailing slash."""
    return f"mlx/{native_id}/"


def artifacts_uri(datastore: str, native_id: str) -> str:
    return f"azureml://datastores/{datastore}/paths/{artifact_prefix(native_id)}"


def log_prefix(native_id: str) -> str:
    return f"ExperimentRun/dcid.{native_id}/"


def azure_keys(names: list[str]) -> dict[str, str]:
    """Spec names -> keys Azure ML accepts for inputs and search-space parameters (letters,
    digits, underscores): ``learning-rate`` -> ``learning_rate``, kept unique."""
    keys: dict[str, str] = {}
    for name in names:
        key = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not key[0].isalpha():
            key = "p_" + key
        base, n = key, 2
        while key in keys.values():
            key, n = f"{base}_{n}", n + 1
        keys[name] = key
    return keys
