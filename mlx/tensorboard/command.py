"""``mlx tensorboard JOB...``: keep a local copy of the jobs' event files, and serve it.

Each round refreshes the jobs' states, lists every run's TensorBoard folder and fetches
only the bytes it gained (``sync``). Rounds repeat every ``every`` seconds while any job
runs; after the jobs have ended one last round runs, and the command returns, unless
TensorBoard is serving (then it serves until Ctrl-C).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from rich.markup import escape

from mlx.console import err, print_json, warn
from mlx.errors import Interrupted, UsageError
from mlx.model import JobKind, JobRecord
from mlx.store import Store
from mlx.tensorboard.places import Run, runs_of
from mlx.tensorboard.sync import Cache, Fetched


@dataclass
class Options:
    sync_only: Optional[Path] = None
    prefix: Optional[str] = None
    port: Optional[int] = None
    once: bool = False
    every: float = 5.0
    as_json: bool = False


@dataclass
class Totals:
    """Per run, what every round fetched; and each run's job."""

    fetched: dict[str, Fetched] = field(default_factory=dict)
    jobs: dict[str, JobRecord] = field(default_factory=dict)

    def add(self, run: Run, got: Fetched) -> None:
        self.fetched.setdefault(run.name, Fetched()).add(got)
        self.jobs[run.name] = run.record

    def as_json(self, root: Path) -> dict[str, Any]:
        runs = [
            {
                "run": name,
                "job": self.jobs[name].id,
                "provider": self.jobs[name].provider,
                "state": self.jobs[name].state.value,
                "files": got.files,
                "bytes": got.bytes,
                "refetched": got.whole,
            }
            for name, got in sorted(self.fetched.items())
        ]
        return {"dir": str(root), "runs": runs, "bytes": sum(r["bytes"] for r in runs)}


def default_cache() -> Path:
    from mlx.settings import mlx_home

    return mlx_home() / "tensorboard"


def tensorboard(refs: list[str], store: Store, options: Options) -> None:
    from mlx.lookup import find_job

    if options.prefix is not None and len(refs) != 1:
        raise UsageError("--prefix names the folder of one job; give one JOB with it")
    if options.as_json and not (options.once or options.sync_only):
        raise UsageError("--json goes with --once or --sync-only (a served TensorBoard has none)")
    serving = options.sync_only is None
    if serving:
        from mlx.tensorboard.serve import require

        require()
    records = [find_job(store, ref) for ref in refs]
    cache = Cache(options.sync_only or default_cache())
    totals = Totals()
    if not serving:
        _sync_until_ended(records, store, cache, options, totals)
        _report(cache.root, totals, options.as_json)
        return
    _serve(records, store, cache, options, totals)


def _sync_until_ended(
    records: list[JobRecord],
    store: Store,
    cache: Cache,
    options: Options,
    totals: Totals,
    check: Callable[[], None] = lambda: None,
) -> list[JobRecord]:
    """Rounds until every job has ended (one round with ``once``), ``check`` called
    between rounds; the fresh records."""
    while True:
        records = _refresh(records, store)
        ended = all(r.state.terminal for r in records)
        _round(records, store, cache, options, totals)
        if ended or options.once:
            return records
        check()
        time.sleep(options.every)


def _serve(
    records: list[JobRecord], store: Store, cache: Cache, options: Options, totals: Totals
) -> None:
    from mlx.tensorboard.serve import Server, free_port

    server = Server(cache.root, free_port(options.port)).start()
    err.print(f"TensorBoard at [bold]{server.url}[/] over {escape(str(cache.root))}")
    err.print("Press Ctrl-C to stop it; the jobs keep running.")
    try:
        records = _sync_until_ended(records, store, cache, options, totals, server.check)
        while True:  # the jobs ended: TensorBoard serves what they wrote until Ctrl-C
            server.check()
            time.sleep(options.every)
    except KeyboardInterrupt:
        raise Interrupted(
            "stopped TensorBoard",
            hint=f"Its files stay in {cache.root}; `mlx tensorboard "
            f"{' '.join(r.id for r in records)}` serves them again.",
        ) from None
    finally:
        server.stop()


def _refresh(records: list[JobRecord], store: Store) -> list[JobRecord]:
    from mlx import lifecycle

    return [lifecycle.refresh(r, store) if not r.state.terminal else r for r in records]


def _round(
    records: list[JobRecord], store: Store, cache: Cache, options: Options, totals: Totals
) -> None:
    for record in records:
        trials = []
        if record.kind == JobKind.TUNING:
            trials = store.list(parent_id=record.id, kinds=(JobKind.TRIAL,))
        for run in runs_of(record, trials, options.prefix):
            if not run.places and run.name not in totals.fetched:
                warn(
                    f"{run.name}: {run.record.provider} uploads no TensorBoard folder of it "
                    f"while it runs; `mlx pull-artifacts {run.record.id}` fetches its files"
                )
            got = cache.sync(run)
            totals.add(run, got)
            if got.bytes and not options.as_json:
                err.print(f"{escape(run.name)}: {got.files} file(s), {got.bytes:,} new bytes")
    cache.save()


def _report(root: Path, totals: Totals, as_json: bool) -> None:
    if as_json:
        print_json(totals.as_json(root))
        return
    total = sum(f.bytes for f in totals.fetched.values())
    err.print(f"{len(totals.fetched)} run(s) in {escape(str(root))}; {total:,} bytes fetched")
