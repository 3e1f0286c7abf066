"""The AWS test server executes SageMaker jobs: every create runs through mlx's runner.

Opt-in (``AwsServer.execute_jobs()``): a ``CreateTrainingJob`` or
``CreateHyperParameterTuningJob`` the server accepted starts ``SageMakerRunner`` in a
thread, with a ``Host`` whose objects are mlx's own ``S3Store`` on this server's S3, whose
lines go to CloudWatch Logs (``/aws/sagemaker/TrainingJobs``, one stream per node), whose
events move the job in the server (status, FailureReason, FinalMetricDataList, the tuning
job's trials and their objectives), and whose ``cancelled`` is set by ``Stop*``. The
sandbox runtime stands in for containers; ``SandboxImage`` says what the image holds.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mlx.backends.sagemaker.objects import S3Store
from mlx.backends.sagemaker.runner import SageMakerRunner, SandboxImage
from mlx.cloud.layout import split_uri
from mlx.runner.host import Host, Where
from mlx.runner.sandbox import SandboxRuntime

if TYPE_CHECKING:
    from tests.emulators.aws import AwsServer

GROUP = "/aws/sagemaker/TrainingJobs"
CREATES = {
    "CreateTrainingJob": ("TrainingJobName", "run_training"),
    "CreateHyperParameterTuningJob": ("HyperParameterTuningJobName", "run_tuning"),
}
STOPS = {
    "StopTrainingJob": ("TrainingJobName", "training"),
    "StopHyperParameterTuningJob": ("HyperParameterTuningJobName", "tuning"),
}


class JobRuns:
    """The runs a server started; ``objectives[tuning job]``: what its tuner received."""

    def __init__(self, server: AwsServer, image: Optional[SandboxImage] = None) -> None:
        self.server = server
        self.image = image or SandboxImage()
        self.folder = Path(tempfile.mkdtemp(prefix="aws-runs-"))
        self.runtime = SandboxRuntime(scratch=self.folder / "sandbox")
        self.threads: dict[str, threading.Thread] = {}
        self.cancels: dict[str, threading.Event] = {}
        self.objectives: dict[str, list[float]] = {}
        self.outcomes: dict[str, Any] = {}
        self._s3: Any = None

    def created(self, action: str, body: dict[str, Any], region: str) -> None:
        """A create the server accepted: run it."""
        if action not in CREATES:
            return
        key, method = CREATES[action]
        name = body[key]
        runner = SageMakerRunner(self.image, region=region)
        host = Host(
            store=self.store,
            runtime=self.runtime,
            workspace=self.folder / name,
            line=lambda where, text, ts: self._line(where, text, ts, region),
            event=lambda what, details: self._event(what, details, region),
        )
        self.cancels[name] = host.cancelled

        def run() -> None:
            self.outcomes[name] = getattr(runner, method)(body, host)

        thread = threading.Thread(target=run, name=f"run-{name}", daemon=True)
        self.threads[name] = thread
        thread.start()

    def stopping(self, action: str, body: dict[str, Any]) -> Optional[tuple[str, str]]:
        """A stop call for a job that runs here: its run is cancelled; the job's key in
        ``SageMakerJobs.stopping`` (None: not a run of ours)."""
        if action not in STOPS:
            return None
        field, kind = STOPS[action]
        name = body.get(field, "")
        event = self.cancels.get(name)
        if event is None:
            return None
        event.set()
        return (kind, name)

    def wait(self, name: str, timeout: float = 60) -> Any:
        self.threads[name].join(timeout)
        return self.outcomes.get(name)

    def stop_all(self, timeout: float = 30) -> None:
        for event in self.cancels.values():
            event.set()
        for thread in self.threads.values():
            thread.join(timeout)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the host ----------------------------------------------------------------------

    def store(self, uri: str) -> tuple[S3Store, str]:
        if self._s3 is None:
            self._s3 = self.server.client("s3")
        bucket, key = split_uri(uri)
        return S3Store(self._s3, bucket), key

    def _line(self, where: Where, text: str, ts: float, region: str) -> None:
        # CloudWatch takes no empty message (InputLogEvent.message: at least 1 character).
        self.server.put_log_lines(GROUP, where.stream, [(int(ts * 1000), text or " ")], region)

    def _event(self, what: str, details: dict[str, Any], region: str) -> None:
        server = self.server
        name = details.get("name", "")
        if what == "running" and details.get("trial") is None:
            server.set_training_job(name, status="InProgress", region=region)
        elif what == "trial-started":
            server.add_tuning_trial(
                details["tuning_job"], name=name, hyperparameters=details["tuned"], region=region
            )
        elif what == "trial-ended":
            if details["objective"] is not None:
                self.objectives.setdefault(details["tuning_job"], []).append(details["objective"])
            server.set_trial(
                name,
                objective=details["objective"],
                status=details["status"],
                failure_reason=details["reason"],
                final_metric_data_list=_metrics(details["metrics"]),
            )
        elif what == "ended" and name in server.sagemaker.backend(region).training_jobs:
            server.set_training_job(
                name,
                status=details["status"],
                failure_reason=details["reason"],
                final_metric_data_list=_metrics(details["metrics"]),
                region=region,
            )
        elif what == "ended":
            server.set_tuning_job(
                name, status=details["status"], failure_reason=details["reason"], region=region
            )


def _metrics(metrics: dict[str, float]) -> list[dict[str, Any]]:
    now = datetime.now(timezone.utc)
    return [{"MetricName": k, "Value": v, "Timestamp": now} for k, v in metrics.items()]
