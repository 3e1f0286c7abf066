"""A job's files under ``s3://<bucket>/<prefix>/<job>/``, by the names every provider uses.

SageMaker's keys are mapped to mlx's neutral paths (see ``layout.py``), so
``--include 'model/*'`` means the same on every provider::

    <job>/output/model/weights.pt   ->  model/weights.pt
    <job>/output/<rest>             ->  output/<rest>  (the output dir, uncompressed)
    <job>/tensorboard-output/<rest> ->  output/tensorboard/<rest>  (TensorBoardOutputConfig)
    checkpoints/step-10.pt          ->  checkpoints/step-10.pt  (trial: checkpoints/<trial>/)
    _mlx/...                        ->  (mlx's staging: not listed)

Files can be listed and pulled while the job runs (checkpoints are synced as written):
``mlx.cloud.objects.list_under`` lists through ``objects.S3Store`` with ``path_of`` as the
mapper; ``S3Store.download`` fetches one file, at ``key_of`` its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mlx.backends.sagemaker.layout import STAGING, TENSORBOARD_FOLDER


@dataclass(frozen=True)
class ArtifactRoot:
    """One job's artifacts: keys under ``root`` in ``bucket``, written by ``job_name``."""

    bucket: str
    root: str  # "<prefix>/<job or tuning job id>/"
    job_name: str  # the SageMaker training job (a trial's, for a trial)
    trial: bool = False

    def _rules(self) -> list[tuple[str, str]]:
        checkpoints = f"checkpoints/{self.job_name}/" if self.trial else "checkpoints/"
        return [
            # TensorBoardOutputConfig's upload (layout.TENSORBOARD_FOLDER), shown where every
            # provider shows the TensorBoard folder.
            (f"{self.job_name}/{TENSORBOARD_FOLDER}/", "output/tensorboard/"),
            (f"{self.job_name}/output/model/", "model/"),
            (f"{self.job_name}/output/", "output/"),
            (checkpoints, "checkpoints/"),
        ]

    def path_of(self, key: str) -> Optional[str]:
        """The neutral path of ``key``; None for keys that are not this job's artifacts."""
        relative = key[len(self.root) :]
        for key_prefix, neutral in self._rules():
            if relative.startswith(key_prefix):
                return neutral + relative[len(key_prefix) :]
        mapped = ("model/", "output/", "checkpoints/", f"{STAGING}/")
        if self.trial or relative.startswith(mapped):
            return None  # a trial shares the prefix: only its own files are its artifacts
        return relative  # e.g. <job>/profiler-output/..., kept as is

    def key_of(self, path: str) -> str:
        for key_prefix, neutral in self._rules():
            if path.startswith(neutral):
                return self.root + key_prefix + path[len(neutral) :]
        return self.root + path
