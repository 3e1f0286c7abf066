"""The tuning driver: ``python -m mlx.tuning.driver JOB_DIR``.

Runs detached, like a training job's supervisor, so ``mlx tune`` can detach (Ctrl-C,
``--detach``) while the study goes on. It asks Optuna for parameters, runs each trial as a
child job (``kind=trial``), feeds intermediate metric values to the pruner, and tells Optuna
each result. How a trial runs is its trial runner's: on local, through the same
``Supervisor`` a training job uses, in a thread (``local_trials``); for ``tune.engine: mlx``
on a cloud, as a training job there (``cloud_trials``). The study is an Optuna journal file
in the job dir, so a driver that died (``kill -9``, a reboot) is resumed by ``mlx tune
--resume`` with every finished trial kept, never counted twice; a local trial it was
running is marked interrupted and runs again, a cloud trial is watched again.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

from mlx.backends.local.backend import LocalBackend
from mlx.backends.local.run import (
    cancel_requested,
    read_metrics,
    record_outcome,
    run_detached,
)
from mlx.errors import MlxError
from mlx.ids import trial_id
from mlx.logfiles import MLX_LOG, FileTail, LogWriter
from mlx.model import JobRecord, JobState
from mlx.spec import JobSpec, spec_from_record
from mlx.store import Store
from mlx.tuning import space

POLL_SECONDS = 0.05  # how often running trials' metrics are read
STUDY_FILE = "study.journal"


def tell(study: Any, *args: Any, **kwargs: Any) -> None:
    """``study.tell``, where the grid running out is no error.

    GridSampler calls ``study.stop()`` after the last grid point is told, which outside
    ``optimize`` raises RuntimeError: the documented limit of the sampler with ask-and-tell
    (optuna/optuna#5141, #5153). The trial's outcome is stored all the same (``tell`` saves
    it in a ``finally``), and the driver stops asking at the grid's size itself.
    """
    try:
        study.tell(*args, **kwargs)
    except RuntimeError as e:
        if "Study.stop" not in str(e):
            raise


class MetricTail(FileTail):
    """New values of one metric from a trial's ``metrics.jsonl``, as they are written."""

    def __init__(self, path: Path, metric: str) -> None:
        super().__init__(path)
        self.metric = metric
        self.count = 0

    def read(self) -> list[tuple[int, float]]:
        values = []
        for line in self.read_lines():
            try:  # the trial's own process writes the file: a damaged line is skipped
                item = json.loads(line)
                if not isinstance(item, dict) or item.get("name") != self.metric:
                    continue
                value = float(item["value"])
                step = item.get("step")
                step = int(step) if step is not None else self.count + 1
            except (ValueError, KeyError, TypeError):
                continue
            self.count += 1
            values.append((step, value))
        return values


class TrialRun(Protocol):
    """One trial's run, as a trial runner starts it (``local_trials``, ``cloud_trials``)."""

    done: threading.Event  # set once it has ended (and its end is recorded)
    metrics_file: Path  # where its metrics appear as they are reported

    def stop(self, reason: str) -> None: ...
    def close(self) -> None: ...


class TrialRunner(Protocol):
    def record(self, job_id: str, spec: JobSpec, info: dict[str, Any]) -> JobRecord: ...
    def start(self, spec: JobSpec, job_id: str, wake: threading.Event) -> TrialRun: ...
    def reattach(self, job_id: str, wake: threading.Event) -> Optional[TrialRun]: ...


@dataclass
class RunningTrial:
    number: int
    trial: Any  # optuna.Trial; None for one a dead driver started (told by its number)
    job_id: str
    run: TrialRun
    tail: MetricTail
    last: Optional[float] = None
    pruned_at: Optional[int] = None
    reported: set[int] = field(default_factory=set)


class LocalTuner:
    def __init__(self, job_dir: Path) -> None:
        self.job_dir = job_dir
        self.backend = LocalBackend(home=job_dir.parent.parent)
        self.store = Store(self.backend.home / "jobs.db")
        self.parent: JobRecord = self.store.get(job_dir.name)
        self.spec: JobSpec = spec_from_record(
            self.parent.spec, self.parent.info["base_dir"], self.parent.info.get("source", "")
        )
        assert self.spec.tune is not None
        self.tune = self.spec.tune
        self.log = LogWriter(job_dir / "logs" / MLX_LOG)
        self.running: dict[int, RunningTrial] = {}
        self._wake = threading.Event()
        self.interrupted: set[int] = set(self.parent.info.get("interrupted", []))
        self.cancelled = False
        self.distributions = space.distributions(self.tune)
        self.target = min(self.tune.max_trials, space.grid_size(self.tune) or self.tune.max_trials)
        self.trials = self._trial_runner()

    def _trial_runner(self) -> TrialRunner:
        if self.parent.engine:  # a cloud's tuning job, each trial a training job there
            from mlx.tuning.cloud_trials import CloudTrials

            return CloudTrials(self.backend.home, self.store, self.parent, self.say)
        from mlx.tuning.local_trials import LocalTrials

        return LocalTrials(self.backend, self.parent)

    def say(self, text: str) -> None:
        self.log.write(text, time.time())

    # -- the study ---------------------------------------------------------------------

    def _study(self) -> Any:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = JournalStorage(JournalFileBackend(str(self.job_dir / STUDY_FILE)))
        return optuna.create_study(
            study_name=self.parent.id,
            storage=storage,
            load_if_exists=True,
            sampler=space.sampler(self.tune),
            pruner=space.pruner(self.tune),
            direction=self.tune.objective.goal,
        )

    def _counted(self, study: Any) -> int:
        """Trials that ran to an outcome; interrupted ones are run again instead."""
        from optuna.trial import TrialState

        done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        return sum(
            t.state in done and t.number not in self.interrupted
            for t in study.get_trials(deepcopy=False)
        )

    def _mark_interrupted(self, number: int) -> None:
        self.interrupted.add(number)
        info = {**self.store.get(self.parent.id).info, "interrupted": sorted(self.interrupted)}
        self.store.update(self.parent.id, info=info)

    def _recover(self, study: Any) -> None:
        """Trials a dead driver left running: watched again where they still run (cloud
        trials), else marked interrupted, to be run again."""
        from optuna.trial import TrialState

        for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            job_id = trial_id(self.parent.id, frozen.number)
            if self._finished_unseen(study, frozen.number, job_id):
                continue
            run = self.trials.reattach(job_id, self._wake)
            if run is not None:
                self._add(frozen.number, None, job_id, run)
                self.say(f"trial {frozen.number} reattached: its job was not submitted again")
                continue
            with contextlib.suppress(Exception):
                self.store.update(
                    job_id,
                    state=JobState.FAILED,
                    unless_ended=True,
                    message="interrupted: the tuning driver stopped",
                )
            self._mark_interrupted(frozen.number)
            tell(study, frozen.number, state=TrialState.FAIL)
            self.say(f"trial {frozen.number} was interrupted; it will run again")

    def _finished_unseen(self, study: Any, number: int, job_id: str) -> bool:
        """A trial that ended, and was recorded, after the dead driver last told the study:
        it is told now (counting it interrupted would run it again and count it twice)."""
        try:
            record = self.store.get(job_id)
        except MlxError:
            return False
        metric = self.tune.objective.metric
        value = record.metrics.get(metric)
        if value is None:
            value = read_metrics(self.backend.job_dir(job_id)).get(metric)
        if record.state != JobState.SUCCEEDED or value is None:
            return False
        tell(study, number, value)
        self.store.update(job_id, info={**record.info, "objective": value})
        self.say(f"trial {number} had finished: {metric}={value:g}")
        return True

    # -- trials ------------------------------------------------------------------------

    def _start_trial(self, study: Any) -> None:
        from mlx.tuning.trial_template import trial_spec

        trial = study.ask(self.distributions)
        params = dict(trial.params)
        job_id = trial_id(self.parent.id, trial.number)
        spec = trial_spec(self.spec, params)
        # The row first: a trial is never started that the store does not know.
        self.store.insert(
            self.trials.record(job_id, spec, {"trial": trial.number, "params": params})
        )
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        self.say(f"trial {trial.number} started: {shown}")
        self._add(trial.number, trial, job_id, self.trials.start(spec, job_id, self._wake))

    def _add(self, number: int, trial: Any, job_id: str, run: TrialRun) -> None:
        tail = MetricTail(run.metrics_file, self.tune.objective.metric)
        self.running[number] = RunningTrial(number, trial, job_id, run, tail)

    def _watch(self, run: RunningTrial) -> None:
        """Feed new objective values to the pruner; stop the trial when it says so."""
        for step, value in run.tail.read():
            run.last = value
            if run.trial is None or run.pruned_at is not None or step in run.reported:
                continue
            run.reported.add(step)
            run.trial.report(value, step)
            if run.trial.should_prune():
                run.pruned_at = step
                self._mark_pruned(run.job_id)
                run.run.stop(f"pruned at step {step}")

    def _mark_pruned(self, job_id: str) -> None:
        """Pruned, in the store before it is stopped: a driver that dies now is followed
        by one that tells Optuna so."""
        info = {**self.store.get(job_id).info, "pruned": True}
        self.store.update(job_id, info=info)

    def _finish_trial(self, study: Any, number: int) -> None:
        from optuna.trial import TrialState

        run = self.running.pop(number)
        run.run.close()
        self._watch(run)  # the last lines
        record = self.store.get(run.job_id)
        # The last value its lines gave, else the job's own (a metric the script reported
        # through hypertune or MLflow on a cloud, where the logs do not show it).
        last = run.last if run.last is not None else record.metrics.get(self.tune.objective.metric)
        info = {**record.info, "objective": last}
        told = run.trial if run.trial is not None else number
        if run.pruned_at is not None or record.info.get("pruned"):
            tell(study, told, state=TrialState.PRUNED)
            info["pruned"] = True
            at = f" at step {run.pruned_at}" if run.pruned_at is not None else ""
            outcome = f"pruned{at}"
        elif self.cancelled:
            self._mark_interrupted(number)
            tell(study, told, state=TrialState.FAIL)
            outcome = "cancelled"
        elif record.info.get("interrupted"):  # it never ran (cloud_trials)
            self._mark_interrupted(number)
            tell(study, told, state=TrialState.FAIL)
            outcome = f"interrupted: {record.message}; it will run again"
        elif record.state == JobState.SUCCEEDED and last is not None:
            tell(study, told, last)
            outcome = f"{self.tune.objective.metric}={last:g}"
        else:
            tell(study, told, state=TrialState.FAIL)
            if record.state == JobState.SUCCEEDED:  # it ran to the end without the objective
                outcome = self._without_objective(run.job_id)
            else:
                outcome = record.message or record.state.value
            outcome = f"failed: {outcome}"
        self.store.update(run.job_id, info=info)
        self.say(f"trial {number} {outcome}")
        self._record_best(study)

    def _without_objective(self, job_id: str) -> str:
        """A trial that succeeded but never reported the objective: failed, with why."""
        from mlx.tuning.objective import never_reported

        message = never_reported(self.tune.objective.metric)
        self.store.update(job_id, state=JobState.FAILED, message=message)
        return message

    def _record_best(self, study: Any) -> None:
        from optuna.trial import TrialState

        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            return
        best = study.best_trial
        info = {
            **self.store.get(self.parent.id).info,
            "best_trial": best.number,
            "best_objective": best.value,
            "best_params": best.params,
        }
        self.store.update(
            self.parent.id, info=info, metrics={self.tune.objective.metric: best.value}
        )

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        try:
            return self._run()
        except Exception as e:
            # A bug or a broken study file: stop the trials and say so, rather than leave
            # the job "running" with nobody driving it. The traceback is in driver.out.
            self.cancel()
            self.store.update(
                self.parent.id,
                unless_ended=True,
                state=JobState.FAILED,
                message=f"the tuning driver failed: {e}",
            )
            self.say(f"the tuning driver failed: {e!r}")
            raise

    def _run(self) -> int:
        study = self._study()
        self._recover(study)
        self.store.update(
            self.parent.id, state=JobState.RUNNING, message=None, ended_at=None, exit_code=None
        )
        self.say(
            f"tuning {self.tune.objective.metric} ({self.tune.objective.goal}) with "
            f"{self.tune.algorithm}: {self.target} trials, {self.tune.parallel_trials} "
            f"at a time"
        )
        counted = self._counted(study)
        while True:
            if not self.cancelled and cancel_requested(self.job_dir):
                self.cancel()  # cancelled before this driver could take a signal
            if not self.cancelled:
                remaining = self.target - counted - len(self.running)
                while remaining > 0 and len(self.running) < self.tune.parallel_trials:
                    self._start_trial(study)
                    remaining -= 1
            if not self.running:
                break
            for number, run in list(self.running.items()):
                self._watch(run)
                if run.run.done.is_set():
                    self._finish_trial(study, number)
                    counted = self._counted(study)
                    self._wake.set()  # start the next trial now, not after a poll
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
        return self._conclude(study)

    def _conclude(self, study: Any) -> int:
        from optuna.trial import TrialState

        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if self.cancelled:
            state, message = JobState.CANCELLED, "cancelled"
        elif complete:
            state, message = JobState.SUCCEEDED, None
        else:
            state, message = JobState.FAILED, self._nothing_scored()
        record_outcome(
            self.job_dir, self.store, self.parent.id, state, 0 if complete else 1, message
        )
        self.say(f"tuning {state.value}" + (f": {message}" if message else ""))
        return 0 if state == JobState.SUCCEEDED else 1

    def _nothing_scored(self) -> str:
        """Why no trial gave the tuner a value (trials that ran to the end say so)."""
        from mlx.tuning.objective import never_reported, no_trial_scored

        metric = self.tune.objective.metric
        trials = self.store.list(parent_id=self.parent.id)
        ran = sum(1 for t in trials if t.message == never_reported(metric))
        return no_trial_scored(metric, ran)

    def cancel(self) -> None:
        self.cancelled = True
        for run in list(self.running.values()):
            run.run.stop("cancelled")


def main(argv: list[str]) -> int:
    return run_detached(argv, LocalTuner)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
