"""What each command prints: Rich for people, stable JSON (``--json``) for scripts.

With ``--json`` stdout carries only the JSON document; logs and progress go to stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Optional

from rich.markup import escape
from rich.table import Table

from mlx import lifecycle
from mlx.console import err, out, print_json
from mlx.errors import BackendError, BackendUnavailable, JobFailed, MlxError
from mlx.flags import parse_since
from mlx.model import JobKind, JobRecord, JobState, LogLine, LogQuery
from mlx.output import format_line, record_json
from mlx.providers import get as get_provider
from mlx.spec import JobSpec
from mlx.store import Store
from mlx.text import printable

_STATE_STYLE = {
    JobState.PENDING: "yellow",
    JobState.RUNNING: "cyan",
    JobState.CANCELLING: "yellow",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "magenta",
}


def _state(state: JobState) -> str:
    return f"[{_STATE_STYLE[state]}]{state.value}[/]"


def _write_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _write_err_line(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


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
    if get_provider(spec.provider).machines is not None:
        from mlx.catalog.pricing import choice_summary, estimate

        err.print(f"Instance: {escape(choice_summary(estimate(spec.provider, spec.resources)))}")


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


def train(
    spec: JobSpec, store: Store, *, detach: bool, as_json: bool, rehearse: bool = False
) -> None:
    from mlx import startup

    record = lifecycle.launch(spec, store, rehearse=rehearse)
    _started(record)
    startup.announce(spec, record)
    if detach:
        if as_json:
            print_json(record_json(record))
        else:
            err.print(f"Follow its logs with [bold]mlx logs -f {record.id}[/]")
        return
    write = _write_err_line if as_json else _write_line
    multi = record.nodes > 1
    record = startup.watch_start(record, store)  # state changes until its command runs
    record = _follow(
        record, store, LogQuery(follow=True), lambda line: write(format_line(line, multi))
    )
    if as_json:
        print_json(record_json(record))
    _summary(record)
    _raise_unless_succeeded(record)


def tune(
    spec: JobSpec, store: Store, *, detach: bool, as_json: bool, rehearse: bool = False
) -> None:
    from mlx import startup

    record = lifecycle.launch(spec, store, kind=JobKind.TUNING, rehearse=rehearse)
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
    if not record.is_tuning:
        from mlx import startup

        record = startup.watch_start(record, store)  # a pending job: its state changes first
    record = _follow(
        record, store, query, lambda line: _write_line(format_line(line, multi, timestamps))
    )
    err.print(f"Job [bold]{record.id}[/] {_state(record.state)}")
    _raise_unless_succeeded(record, logs_shown=True)


def _follow(
    record: JobRecord, store: Store, query: LogQuery, write: Callable[[LogLine], None]
) -> JobRecord:
    """``lifecycle.follow``; when the provider stops answering, say that only the
    following stopped: the job runs on, and how to come back to it."""
    try:
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


def list_jobs(
    store: Store,
    provider: Optional[str],
    states: list[str],
    since: Optional[str],
    limit: int,
    as_json: bool,
    tags: Optional[dict[str, str]] = None,
) -> None:
    if provider:
        from mlx.spec import check_provider_flag

        check_provider_flag(provider)
    wanted = [_parse_state(s) for s in states]
    # A job not ended when last seen may be in a wanted state by now: list it too, refresh.
    candidates = wanted and [*wanted, *(s for s in JobState if not s.terminal and s not in wanted)]
    records = store.list(
        provider=provider,
        states=candidates or None,
        since=parse_since(since),
        limit=limit,
        tags=tags,
    )
    if store.read_only:  # nothing learnt could be saved: show what the store holds
        from mlx.console import warn

        warn(f"job store {store.path} is read-only: jobs are shown as last recorded")
    else:
        records = lifecycle.refresh_listed(records, store)
    if wanted:  # a refresh may have moved a job out of the asked-for states
        records = [r for r in records if r.state in wanted]
    if as_json:
        print_json([record_json(r) for r in records])
        return
    if not records:
        err.print("No jobs.")
        return
    from rich.table import Column

    table = Table(
        "id",
        Column("provider", no_wrap=True),
        "state",
        "created",
        "duration",
        box=None,
        header_style="bold",
    )
    from mlx.timefmt import length, run_time

    for r in records:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at))
        table.add_row(r.id, _provider(r), _state(r.state), created, length(run_time(r)))
    out.print(table)


def _provider(record: JobRecord) -> str:
    """The provider as listings show it: a rehearsal says so."""
    return f"{record.provider} (rehearsal)" if record.rehearsal else record.provider


def _parse_state(text: str) -> JobState:
    try:
        return JobState(text.lower())
    except ValueError:
        states = ", ".join(s.value for s in JobState)
        raise MlxError(f"--status {text!r} is not a state", hint=f"Use one of: {states}.") from None


def status(record: JobRecord, store: Store, as_json: bool) -> None:
    if store.read_only:  # nothing learnt could be saved: show what the store holds
        from mlx.console import warn

        warn(f"job store {store.path} is read-only: the job is shown as last recorded")
    else:
        record = lifecycle.refresh(record, store)
    if record.is_tuning:
        from mlx.tuning import view

        if as_json:
            print_json(view.summary(store, record))
        else:
            out.print(view.table(store, record))
            for text in _trial_failures(store, record):
                out.print(escape(text))
            line = view.best_line(store, record)
            if line:
                out.print(escape(line))
        return
    if as_json:
        print_json(record_json(record))
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
