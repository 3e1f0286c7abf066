"""What each command prints: Rich for people, stable JSON (``--json``) for scripts.

With ``--json`` stdout carries only the JSON document; logs and progress go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional

from rich.markup import escape
from rich.table import Table

from mlx import lifecycle
from mlx.console import err, out, print_json
from mlx.errors import BackendError, BackendUnavailable, JobFailed
from mlx.linewriter import LineWriter
from mlx.listing import STATE_STYLE
from mlx.model import JobKind, JobRecord, JobState, LogLine, LogQuery
from mlx.output import format_line, record_json
from mlx.spec import JobSpec
from mlx.store import Store
from mlx.text import printable


def _state(state: JobState) -> str:
    return f"[{STATE_STYLE[state]}]{state.value}[/]"


def print_translation(spec: JobSpec, as_json: bool, tuning: bool = False) -> None:
    from mlx import upload_listing

    # What the job takes from this machine: "uploads" (a cloud) or "copies" (local).
    files = upload_listing.listing(spec)
    translation = {**lifecycle.translate(spec, tuning=tuning), **files}
    if as_json:
        print_json(translation)
    else:
        from rich.json import JSON

        out.print(JSON.from_data(translation, default=str))
    for line in upload_listing.lines(files):
        err.print(escape(line))
    from mlx.catalog.budget import print_estimate

    print_estimate(spec, tuning=tuning)


def _started(record: JobRecord, what: str = "") -> None:
    """``Started <id> on <provider>``, saying so when it is a rehearsal (and with the
    runtime's note: the sandbox did not use the image)."""
    where = record.provider
    if record.rehearsal:  # the runtime it got, not _provider's word
        where += f" (rehearsed on this machine, {record.rehearsal})"
    err.print(f"Started {what}[bold]{record.id}[/] on {where}")
    note = record.info.get("note")
    if note:
        err.print(f"Note: {escape(str(note))}")


def _estimate(spec: JobSpec, rehearse: bool, tuning: bool = False) -> Optional[Callable[[], None]]:
    """What the job (the search) can cost, said before it is submitted; a rehearsal is free."""
    from mlx.catalog.budget import print_estimate

    return None if rehearse else lambda: print_estimate(spec, tuning=tuning)


def train(
    spec: JobSpec, store: Store, *, detach: bool, as_json: bool, rehearse: bool = False
) -> None:
    from mlx import startup

    record = lifecycle.launch(
        spec, store, rehearse=rehearse, before_submit=_estimate(spec, rehearse)
    )
    _started(record)
    startup.announce(spec, record)
    if detach:
        if as_json:
            print_json(record_json(record))
        else:
            err.print(f"Follow its logs with [bold]mlx logs -f {record.id}[/]")
        return
    multi = record.nodes > 1
    with LineWriter(sys.stderr if as_json else sys.stdout) as sink:  # a flush per batch
        record = _follow(
            record, store, LogQuery(follow=True), lambda line: sink.write(format_line(line, multi))
        )
    if as_json:
        print_json(record_json(record))
    _summary(record)
    _raise_unless_succeeded(record)


def tune(
    spec: JobSpec, store: Store, *, detach: bool, as_json: bool, rehearse: bool = False
) -> None:
    from mlx import startup

    record = lifecycle.launch(
        spec,
        store,
        kind=JobKind.TUNING,
        rehearse=rehearse,
        before_submit=_estimate(spec, rehearse, tuning=True),
    )
    _started(record, "tuning job ")
    startup.announce(spec, record)
    _watch_tuning(record, store, detach=detach, as_json=as_json)


def resume_tune(record: JobRecord, store: Store, *, detach: bool, as_json: bool) -> None:
    record = lifecycle.resume_tuning(record, store)
    err.print(f"Resumed tuning job [bold]{record.id}[/]")
    _watch_tuning(record, store, detach=detach, as_json=as_json)


def _watch_tuning(record: JobRecord, store: Store, *, detach: bool, as_json: bool) -> None:
    from mlx.tuning import view

    if detach:
        if as_json:
            print_json(view.summary(store, record))
        else:
            err.print(
                f"Watch it with [bold]mlx tune --resume {record.id}[/]; "
                f"its log: [bold]mlx logs -f {record.id}[/]"
            )
        return
    from mlx import startup

    record = startup.watch_start(record, store)  # the search's own start, before any trial
    record = view.watch(store, record, err if as_json else out)
    if as_json:
        print_json(view.summary(store, record))
    for text in _trial_failures(store, record):
        err.print(escape(text))
    line = view.best_line(store, record)
    if line:
        err.print(escape(line))
        err.print(
            f"Its logs: [bold]mlx logs {record.id} --trial best[/]; its artifacts: "
            f"[bold]mlx pull-artifacts {record.id} --trial best[/]"
        )
    _raise_unless_succeeded(record)


def _trial_failures(store: Store, record: JobRecord) -> list[str]:
    """Why trials failed, one line per reason (a trial without its objective says so)."""
    from mlx.tuning import view
    from mlx.tuning.objective import failure_lines

    return failure_lines(view.summary(store, record)["trials"])


def _summary(record: JobRecord) -> None:
    from mlx.timefmt import length, run_time

    err.print(f"Job [bold]{record.id}[/] {_state(record.state)} after {length(run_time(record))}")
    if record.metrics:
        shown = ", ".join(f"{k}={v:g}" for k, v in record.metrics.items())
        err.print(f"Metrics: {escape(shown)}")
    if record.state == JobState.SUCCEEDED and record.artifacts_uri:
        err.print(f"Artifacts: {escape(record.artifacts_uri)}")
        err.print(f"Fetch them with [bold]mlx pull-artifacts {record.id}[/]")


def _raise_unless_succeeded(record: JobRecord, *, logs_shown: bool = False) -> None:
    """Exit 1 with the reason; point to the job's logs only where there are some the user
    has not just read (not inside ``mlx logs -f``; not for a job that never printed a
    line, as after an image that could not be pulled)."""
    if record.state == JobState.SUCCEEDED:
        return
    from mlx.failure_hints import failure_hint

    reason = f": {record.message}" if record.message else ""
    raise JobFailed(
        f"job {record.id} {record.state.value}{reason}",
        hint=failure_hint(record, logs_shown=logs_shown),
    )


def logs(record: JobRecord, store: Store, query: LogQuery, timestamps: bool) -> None:
    multi = record.nodes > 1
    if not query.follow:
        try:
            for line in lifecycle.stream_logs(record, query):
                sys.stdout.write(format_line(line, multi, timestamps) + "\n")  # buffered
            sys.stdout.flush()
        except BrokenPipeError:  # `mlx logs id | head` is fine
            sys.stderr.close()
        return
    with LineWriter(sys.stdout) as sink:  # a flush per batch, not per line
        record = _follow(
            record, store, query, lambda line: sink.write(format_line(line, multi, timestamps))
        )
    err.print(f"Job [bold]{record.id}[/] {_state(record.state)}")
    _raise_unless_succeeded(record, logs_shown=True)


def _follow(
    record: JobRecord, store: Store, query: LogQuery, write: Callable[[LogLine], None]
) -> JobRecord:
    """``lifecycle.follow``; when the provider stops answering, say that only the
    following stopped: the job runs on, and how to come back to it. A job still starting
    shows its state changes first (stderr), until its command runs."""
    from mlx import startup

    try:
        if not record.is_tuning:
            record = startup.watch_start(record, store)
        return lifecycle.follow(record, store, query, write)
    except (BackendError, BackendUnavailable) as e:
        raise BackendError(
            f"stopped following {record.id} ({e.message}); the job keeps running",
            hint=f"Reattach with `mlx logs -f {record.id}` once {record.provider} answers "
            f"again; `mlx status {record.id}` shows its state.",
        ) from e


def pull(
    record: JobRecord,
    include: list[str],
    exclude: list[str],
    dest: Path,
    list_only: bool,
    as_json: bool,
) -> None:
    if list_only:
        artifacts = lifecycle.list_artifacts(record, include, exclude)
        if as_json:
            print_json(
                [{"path": a.path, "size": a.size, "checksum": a.checksum} for a in artifacts]
            )
            return
        table = Table("path", "size", box=None, header_style="bold")
        for artifact in artifacts:
            table.add_row(escape(printable(artifact.path)), _size(artifact.size))
        out.print(table)
        return
    result = lifecycle.pull(record, include, exclude, dest, show_progress=not as_json)
    if as_json:
        print_json(
            {
                "dest": str(result.dest),
                "downloaded": result.downloaded,
                "skipped": result.skipped,
                "bytes": result.bytes,
            }
        )
        return
    err.print(
        f"Pulled {len(result.downloaded)} file(s), {_size(result.bytes)}, into "
        f"{escape(str(result.dest))}"
        + (f"; {len(result.skipped)} already up to date" if result.skipped else "")
    )


def _provider(record: JobRecord) -> str:
    """The provider as listings show it: a rehearsal says so."""
    return f"{record.provider} (rehearsal)" if record.rehearsal else record.provider


def status(record: JobRecord, store: Store, as_json: bool) -> None:
    if store.read_only:  # nothing learnt could be saved: show what the store holds
        from mlx.console import warn

        warn(f"job store {store.path} is read-only: the job is shown as last recorded")
    else:
        record = lifecycle.refresh(record, store)
    from mlx.catalog.spent import cost_text, job_cost

    cost = job_cost(record, store)  # the provider's billed time, or duration × price
    if record.is_tuning:
        from mlx.tuning import view

        if as_json:
            print_json({**view.summary(store, record), "cost": cost})
        else:
            out.print(view.table(store, record))
            for text in _trial_failures(store, record):
                out.print(escape(text))
            line = view.best_line(store, record)
            if line:
                out.print(escape(line))
            if cost is not None:
                out.print(f"Cost: {escape(cost_text(cost))}")
        return
    if as_json:
        print_json({**record_json(record), "cost": cost})
        return
    from mlx.timefmt import length, moment, run_time

    table = Table(box=None, show_header=False)
    rows = [
        ("id", record.id),
        ("provider", _provider(record)),
        ("state", _state(record.state)),
        ("native id", escape(record.native_id or "-")),
        ("created", moment(record.created_at)),
    ]
    if record.ended_at is not None:
        rows.append(("ended", moment(record.ended_at)))
    rows.append(("duration", length(run_time(record))))
    if cost is not None:
        rows.append(("cost", escape(cost_text(cost))))
    if record.message:
        rows.append(("message", escape(record.message)))
    if record.exit_code is not None:
        rows.append(("exit code", str(record.exit_code)))
    for name, number in record.metrics.items():
        rows.append((f"metric {escape(name)}", f"{number:g}"))
    rows.append(("artifacts", escape(record.artifacts_uri or "-")))
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", value)
    out.print(table)


def cancel(record: JobRecord, store: Store) -> None:
    record = lifecycle.cancel(record, store)
    err.print(f"Job [bold]{record.id}[/] {_state(record.state)}")


def _size(n: float) -> str:
    """Sizes in the units of the transfer progress display (Rich's ``DownloadColumn`` and
    ``TransferSpeedColumn``: decimal, 1 MB = 1000 kB), so a listed size and the bar that
    fetches it read alike."""
    from rich.filesize import decimal

    return decimal(int(n))
