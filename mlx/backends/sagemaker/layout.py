"""Where things are: the job's S3 prefix and the paths inside a SageMaker container.

One prefix per job, ``s3://<bucket>/<prefix>/<job>/``::

    <job>/output/model/...      the model dir (CompressionType NONE: file by file)
    <job>/output/...            the output dir, uncompressed too with CompressionType NONE
                                (https://docs.aws.amazon.com/sagemaker/latest/dg/
                                model-train-storage-uncompressed.html)
    checkpoints/...             synced while the job runs (node-<rank>/... per node of a
                                multi-node job)
    _mlx/                       mlx's staging: the bootstrap zipapp, runtime.json and the
                                tuning trials' program (mlx_entry.py)

Trials of a tuning job write under the tuning job's prefix: ``<trial>/output/...``; their
checkpoints stay on their instances (a tuning job has one CheckpointConfig for all trials,
restored whole into each: see tuning.py). Local inputs and the code dir are staged
content-addressed, once, under ``s3://<bucket>/<prefix>/inputs/<sha256>/``.
"""

from __future__ import annotations

from mlx.cloud import layout as cloud_layout
from mlx.cloud.layout import BOOTSTRAP_NAME, RUNTIME_NAME

CHANNELS_DIR = "/opt/ml/input/data"
BOOTSTRAP_CHANNEL = "mlx"
CODE_CHANNEL = "code"
RESERVED_CHANNELS = (BOOTSTRAP_CHANNEL, CODE_CHANNEL)
STAGING = "_mlx"

# The in-job contract's paths on SageMaker (see mlx.runtime.contract).
MODEL_DIR = "/opt/ml/model"
CHECKPOINT_DIR = "/opt/ml/checkpoints"
OUTPUT_DIR = "/opt/ml/output/data"
FAILURE_FILE = "/opt/ml/output/failure"
HYPERPARAMETERS_FILE = "/opt/ml/input/config/hyperparameters.json"
RESOURCE_CONFIG = "/opt/ml/input/config/resourceconfig.json"
# TensorBoardOutputConfig (API_TensorBoardOutputConfig: LocalPath, default
# /opt/ml/output/tensorboard, uploaded to S3OutputPath while the job runs). The service
# refuses a LocalPath under /opt/ml, /tmp or /usr/local/nvidia, its own default included
# (ValidationException quoted in aws/amazon-sagemaker-examples#3620), hence a folder of
# mlx's own. The files land under ``<S3OutputPath>/<job>/tensorboard-output/`` (the
# SageMaker Python SDK's ``Estimator.latest_job_tensorboard_artifacts_path``).
TENSORBOARD_DIR = "/mlx/tensorboard"
TENSORBOARD_FOLDER = "tensorboard-output"


def channel_dir(name: str) -> str:
    return f"{CHANNELS_DIR}/{name}"


BOOTSTRAP_PATH = f"{channel_dir(BOOTSTRAP_CHANNEL)}/{BOOTSTRAP_NAME}"
TOOLKIT_ENTRY_NAME = "mlx_entry.py"  # the tuning trials' program (staging.py)
TOOLKIT_ENTRY_PATH = f"{channel_dir(BOOTSTRAP_CHANNEL)}/{TOOLKIT_ENTRY_NAME}"
RUNTIME_PATH = f"{channel_dir(BOOTSTRAP_CHANNEL)}/{RUNTIME_NAME}"
# ContainerEntrypoint strings are at most 256 characters each, so the bootstrap cannot be
# inlined: it arrives as the `mlx` channel and runs with the image's own Python.
ENTRYPOINT = [
    "sh",
    "-c",
    'exec "$(command -v python3 || command -v python)" '
    f'{BOOTSTRAP_PATH} --config {RUNTIME_PATH} -- "$@"',
    "mlx",
]


class Layout(cloud_layout.Layout):
    """The S3 locations of one job (or tuning job) in ``bucket`` under ``prefix``."""

    def __init__(self, bucket: str, prefix: str, job_id: str) -> None:
        super().__init__("s3", bucket, prefix, job_id, STAGING)

    @property
    def checkpoints_uri(self) -> str:
        return self.uri(self.job_id, "checkpoints")
