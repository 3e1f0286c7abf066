"""A ``HyperparameterTuningJob`` run on this machine: trials of ``trialJobSpec``.

What Vertex does with a tuning job, and this runner does too:

- Each trial runs ``trialJobSpec`` as a CustomJob whose ``baseOutputDirectory`` is the
  trial's id under the tuning job's (so ``AIP_MODEL_DIR`` = ``<base>/<trial id>/model/``;
  CustomJobSpec ``baseOutputDirectory``,
  https://cloud.google.com/vertex-ai/docs/reference/rest/v1/CustomJobSpec). Trial ids
  are "1", "2", ... ("the trial number, starting at 1", ``CLUSTER_SPEC``'s ``task.trial``,
  https://cloud.google.com/vertex-ai/docs/training/distributed-training#cluster-spec-format).
- The trial's values reach the training code as command-line arguments
  (https://cloud.google.com/vertex-ai/docs/training/using-hyperparameter-tuning), appended
  to the container's args as ``--<parameterId>=<value>``.
- ``parallelTrialCount`` trials run at a time, ``maxTrialCount`` in all; the job fails once
  ``maxFailedTrialCount`` trials failed (0: when every trial failed).
- A trial's objective is what the training code reported with cloudml-hypertune: the
  file ``/tmp/hypertune/output.metrics`` (``CLOUD_ML_HP_METRIC_FILE`` when set) of the
  primary replica, one JSON object a line, the metric's value as text under its tag
  (GoogleCloudPlatform/cloudml-hypertune, hypertune/hypertune.py); the study keeps the
  last value reported (``measurementSelectionType: LAST_MEASUREMENT``) as the trial's
  ``finalMeasurement``. A trial that reported none, or whose replica failed, is
  ``INFEASIBLE`` (Trial.State) with the reason.

The search itself stands in for Vertex's: a random search seeded by the job's display
name over ``studySpec.parameters`` (log scales sampled in log space). Vertex's algorithms
are not the point here; how values reach a trial and how its objective is read are.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

from mlx.backends.vertex.mount import GcsMount
from mlx.backends.vertex.replicas import _made, base_output, reads, rfc3339, run_spec
from mlx.runner.host import Host, Outcome, TrialOutcome

METRICS_FILE = "hypertune/output.metrics"  # under the primary replica's /tmp


def run_tuning(job: dict[str, Any], job_id: str, host: Host) -> Outcome:
    """Run the tuning job ``job`` (REST JSON) to its end; its outcome and trials."""
    spec = job["trialJobSpec"]
    base = base_output(spec) or ""
    trials = suggestions(job["studySpec"], int(job["maxTrialCount"]), str(job.get("displayName")))
    workspace = Path(tempfile.mkdtemp(prefix="vertex-", dir=_made(host.workspace)))
    mount = GcsMount(host.store, workspace)
    run = _Trials(job, job_id, host, workspace, mount)
    try:
        run.mounts = mount.prepare(reads(spec))
        host.event("running", {"state": "JOB_STATE_RUNNING"})
        parallel = max(1, int(job.get("parallelTrialCount") or 1))
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            outcomes = list(pool.map(run.trial, range(1, len(trials) + 1), trials))
    finally:
        mount.sync()
        mount.close()
        shutil.rmtree(workspace, ignore_errors=True)
    state, error = job_end(job, outcomes, host.cancelled.is_set())
    host.event("ended", {"state": state, "error": error})
    return Outcome(
        state={"JOB_STATE_SUCCEEDED": "succeeded", "JOB_STATE_FAILED": "failed"}.get(
            state, "cancelled"
        ),
        reason=(error or {}).get("message"),
        trials=outcomes,
        artifacts_uri=base,
    )


def job_end(
    job: dict[str, Any], outcomes: list[TrialOutcome], cancelled: bool
) -> tuple[str, Optional[dict[str, Any]]]:
    if cancelled:
        return "JOB_STATE_CANCELLED", {"code": 1, "message": "CANCELLED"}
    failed = sum(1 for t in outcomes if t.state != "succeeded")
    most = int(job.get("maxFailedTrialCount") or 0) or len(outcomes)
    if outcomes and failed >= most:
        message = f"{failed} of {len(outcomes)} trials failed."
        return "JOB_STATE_FAILED", {"code": 9, "message": message}
    return "JOB_STATE_SUCCEEDED", None


class _Trials:
    """What every trial of one tuning job shares."""

    def __init__(
        self, job: dict[str, Any], job_id: str, host: Host, workspace: Path, mount: GcsMount
    ) -> None:
        self.job, self.job_id, self.host = job, job_id, host
        self.workspace, self.mount = workspace, mount
        self.mounts: dict[str, Path] = {}
        self.metric = job["studySpec"]["metrics"][0]["metricId"]

    def trial(self, number: int, values: dict[str, Any]) -> TrialOutcome:
        trial_id = str(number)
        spec = dict(self.job["trialJobSpec"])
        base = base_output(spec) or ""
        spec["baseOutputDirectory"] = {"outputUriPrefix": f"{base}{trial_id}/"}
        record: dict[str, Any] = {
            "id": trial_id,
            "state": "ACTIVE",
            "parameters": [{"parameterId": k, "value": v} for k, v in values.items()],
            "startTime": rfc3339(),
        }
        if self.host.cancelled.is_set():
            return TrialOutcome(trial_id, values, "cancelled", reason="the job was cancelled")
        self.host.event("trial-started", {"trial": dict(record)})
        args = tuple(f"--{name}={argument(value)}" for name, value in values.items())
        folder = self.workspace / f"trial-{trial_id}"
        folder.mkdir()
        ended = run_spec(spec, self.job_id, self.host, self.mounts, folder, trial_id, args)
        self.mount.sync()  # FUSE: the trial's files are objects once closed
        objective = read_objective(ended.primary_tmp, self.metric) if ended.primary_tmp else None
        record["endTime"] = rfc3339()
        outcome = TrialOutcome(trial_id, values, "succeeded", artifacts_uri=f"{base}{trial_id}/")
        if ended.state == "JOB_STATE_CANCELLED":
            outcome.state, outcome.reason = "cancelled", "the job was cancelled"
            record["state"], record["infeasibleReason"] = "INFEASIBLE", outcome.reason
        elif ended.state != "JOB_STATE_SUCCEEDED" or objective is None:
            why = (ended.error or {}).get("message") or f"no {self.metric} was reported"
            outcome.state, outcome.reason = "failed", why
            record["state"], record["infeasibleReason"] = "INFEASIBLE", why
        else:
            outcome.objective = objective
            record["state"] = "SUCCEEDED"
            measured = [{"metricId": self.metric, "value": objective}]
            record["finalMeasurement"] = {"metrics": measured}
        self.host.event("trial-ended", {"trial": record})
        return outcome


def read_objective(tmp: Path, metric: str) -> Optional[float]:
    """The last value reported for ``metric`` in the trial's hypertune metrics file."""
    path = tmp / METRICS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    value = None
    for line in lines:
        try:
            entry = json.loads(line)
            value = float(entry[metric]) if metric in entry else value
        except (ValueError, TypeError):
            continue
    return value


def argument(value: Any) -> str:
    """A suggested value as the command line gets it."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def suggestions(study: dict[str, Any], count: int, seed: str) -> list[dict[str, Any]]:
    """``count`` random points of the study's space (the stand-in for Vertex's search)."""
    rng = random.Random(seed)
    return [
        {p["parameterId"]: sample(p, rng) for p in study.get("parameters") or []}
        for _ in range(count)
    ]


def sample(parameter: dict[str, Any], rng: random.Random) -> Any:
    """One value of a ``ParameterSpec`` (REST JSON, where a 0 may be left out)."""
    log = parameter.get("scaleType") == "UNIT_LOG_SCALE"
    if "doubleValueSpec" in parameter:
        spec = parameter["doubleValueSpec"]
        return _uniform(float(spec.get("minValue", 0)), float(spec.get("maxValue", 0)), log, rng)
    if "integerValueSpec" in parameter:
        spec = parameter["integerValueSpec"]
        low, high = int(spec.get("minValue", 0)), int(spec.get("maxValue", 0))
        if not log:
            return rng.randint(low, high)
        return min(high, max(low, round(_uniform(low, high, True, rng))))
    if "discreteValueSpec" in parameter:
        return rng.choice([float(v) for v in parameter["discreteValueSpec"]["values"]])
    return rng.choice(list(parameter["categoricalValueSpec"]["values"]))


def _uniform(low: float, high: float, log: bool, rng: random.Random) -> float:
    if log and low > 0:
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    return rng.uniform(low, high)
