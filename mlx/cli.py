"""The ``mlx`` command: one thin function per command.

Startup speed is a feature: this module imports only Typer at the top. Each command imports
what it needs when it runs, so ``mlx --help`` never loads pydantic, SQLite or a cloud SDK.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from mlx import __version__

app = typer.Typer(
    name="mlx",
    help="Run training and tuning jobs in the cloud or on this machine, from one YAML job spec.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals hold credentials
    context_settings={"help_option_names": ["-h", "--help"]},
)

ProviderOpt = typer.Option(
    None,
    "--provider",
    "-p",
    help="Where the job runs (overrides the spec); `mlx doctor` lists them.",
)
SetOpt = typer.Option(None, "--set", help="Override a spec field: KEY=VALUE (VALUE is YAML).")
JsonOpt = typer.Option(False, "--json", help="Print a JSON document on stdout (for scripts).")
ProfileOpt = typer.Option(None, "--profile", help="Config-file profile to use.")
TrialOpt = typer.Option(None, "--trial", help="A trial of a tuning job: its number, or best.")
RehearseOpt = typer.Option(
    False,
    "--rehearse",
    help="Run the exact cloud job on this machine, with its platform's layout and rules: "
    "no credentials, no cloud call, no bill.",
)


def _version(value: bool) -> None:
    if value:
        print(f"mlx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Run training and tuning jobs in the cloud or on this machine."""


def _load(
    spec: Path,
    provider: Optional[str],
    overrides: Optional[list[str]],
    profile: Optional[str],
    rehearse: bool = False,
) -> Any:
    from mlx.spec import load_spec

    defaults = None
    if rehearse:  # no cloud is called: stand-in names where the user gave none
        from mlx.providers import rehearsal_defaults

        defaults = dict(rehearsal_defaults())
    return load_spec(spec, overrides or [], provider=provider, profile=profile, defaults=defaults)


def _store() -> Any:
    from mlx.store import Store

    return Store.default()


def _find(store: Any, job: str, trial: Optional[str] = None) -> Any:
    from mlx.lookup import find_job, find_trial

    record = find_job(store, job)
    if trial is not None:
        record = find_trial(store, record, trial)
    return record


@app.command()
def train(
    spec: Path = typer.Argument(..., help="The job spec (YAML)."),
    provider: Optional[str] = ProviderOpt,
    set_: Optional[list[str]] = SetOpt,
    detach: bool = typer.Option(False, "--detach", "-d", help="Return once the job started."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the request; start nothing."),
    rehearse: bool = RehearseOpt,
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Run a training job and stream its logs until it ends."""
    from mlx import commands

    job_spec = _load(spec, provider, set_, profile, rehearse)
    if dry_run:
        commands.print_translation(job_spec, json_)
        return
    commands.train(job_spec, _store(), detach=detach, as_json=json_, rehearse=rehearse)


@app.command()
def tune(
    spec: Optional[Path] = typer.Argument(None, help="The job spec (YAML) with a `tune:` block."),
    provider: Optional[str] = ProviderOpt,
    set_: Optional[list[str]] = SetOpt,
    detach: bool = typer.Option(False, "--detach", "-d", help="Return once the search started."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the request; start nothing."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue a tuning job by id."),
    rehearse: bool = RehearseOpt,
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Run a hyperparameter search; shows a live table of trials and the best one."""
    from mlx import commands

    if resume:
        store = _store()
        commands.resume_tune(store.find(resume), store, detach=detach, as_json=json_)
        return
    if spec is None:
        raise typer.BadParameter("give a SPEC, or --resume JOB", param_hint="SPEC")
    job_spec = _load(spec, provider, set_, profile, rehearse)
    if dry_run:
        commands.print_translation(job_spec, json_, tuning=True)
        return
    commands.tune(job_spec, _store(), detach=detach, as_json=json_, rehearse=rehearse)


@app.command()
def logs(
    job: str = typer.Argument(..., help="Job id, unique prefix, or provider:native-id."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the job ends."),
    since: Optional[str] = typer.Option(None, "--since", help="Only lines newer: 10m, 2h, ISO."),
    tail: Optional[int] = typer.Option(None, "--tail", "-n", min=0, help="Only the last N lines."),
    grep: Optional[str] = typer.Option(None, "--grep", help="Only lines matching this regex."),
    node: Optional[int] = typer.Option(None, "--node", min=0, help="Only this node's lines."),
    trial: Optional[str] = TrialOpt,
    timestamps: bool = typer.Option(False, "--timestamps", "-t", help="Show each line's time."),
) -> None:
    """Print a job's logs (all nodes, merged by time)."""
    from mlx import commands
    from mlx.flags import compile_grep, parse_since
    from mlx.model import LogQuery

    compile_grep(grep)  # a bad pattern is a clear error before anything is read
    store = _store()
    record = _find(store, job, trial)
    query = LogQuery(follow=follow, since=parse_since(since), tail=tail, node=node, grep=grep)
    commands.logs(record, store, query, timestamps=timestamps)


@app.command("pull-artifacts")
def pull_artifacts(
    job: str = typer.Argument(..., help="Job id, unique prefix, or provider:native-id."),
    include: Optional[list[str]] = typer.Option(None, "--include", "-i", help="Glob to fetch."),
    exclude: Optional[list[str]] = typer.Option(None, "--exclude", "-x", help="Glob to skip."),
    dest: Optional[Path] = typer.Option(None, "--dest", help="Target dir (default ./<job-id>)."),
    list_: bool = typer.Option(False, "--list", "-l", help="List the files; fetch nothing."),
    trial: Optional[str] = TrialOpt,
    json_: bool = JsonOpt,
) -> None:
    """Fetch some or all of a job's artifacts, file by file."""
    from mlx import commands

    store = _store()
    record = _find(store, job, trial)
    commands.pull(record, include or [], exclude or [], dest or Path(record.id), list_, json_)


@app.command()
def jobs(
    provider: Optional[str] = typer.Option(None, "--provider", "-p", help="Only this provider."),
    status: Optional[list[str]] = typer.Option(None, "--status", "-s", help="Only this state."),
    since: Optional[str] = typer.Option(None, "--since", help="Only newer: 1d, 2h, ISO time."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many jobs."),
    json_: bool = JsonOpt,
) -> None:
    """List jobs, newest first."""
    from mlx import commands

    commands.list_jobs(_store(), provider, status or [], since, limit, json_)


@app.command()
def status(
    job: str = typer.Argument(..., help="Job id, unique prefix, or provider:native-id."),
    trial: Optional[str] = TrialOpt,
    json_: bool = JsonOpt,
) -> None:
    """Show a job's state, metrics and where its artifacts are."""
    from mlx import commands

    store = _store()
    commands.status(_find(store, job, trial), store, json_)


@app.command()
def cancel(
    job: str = typer.Argument(..., help="Job id, unique prefix, or provider:native-id."),
) -> None:
    """Stop a running job (every node, every trial)."""
    from mlx import commands

    store = _store()
    commands.cancel(_find(store, job), store)


@app.command()
def translate(
    spec: Path = typer.Argument(..., help="The job spec (YAML)."),
    provider: Optional[str] = ProviderOpt,
    set_: Optional[list[str]] = SetOpt,
    tune: bool = typer.Option(False, "--tune", help="The tuning request instead."),
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Print the exact request mlx would send; nothing is called."""
    from mlx import commands

    commands.print_translation(_load(spec, provider, set_, profile), json_, tuning=tune)


@app.command()
def price(
    spec: Path = typer.Argument(..., help="The job spec (YAML)."),
    set_: Optional[list[str]] = SetOpt,
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Compare what the job would cost on each cloud (offline price tables)."""
    from mlx.catalog.pricing import price_command

    price_command(_load(spec, None, set_, profile).resources, as_json=json_)


@app.command()
def schema() -> None:
    """Print the JSON Schema of job specs (for editor autocompletion)."""
    from mlx.console import print_json
    from mlx.spec import json_schema

    print_json(json_schema())


@app.command()
def doctor(
    json_: bool = JsonOpt,
    repair: bool = typer.Option(
        False, "--repair", help="Keep a damaged job store aside and start a new one."
    ),
) -> None:
    """Check the SDKs, credentials and job store (no network)."""
    from mlx.doctor import run_doctor, run_repair

    if repair:
        run_repair(as_json=json_)
        return
    run_doctor(as_json=json_)


def main() -> None:
    """Entry point: runs the app, shows ``MlxError`` as one clean message, maps exit codes."""
    # Newer Typer vendors Click (typer._click) instead of depending on it, so its exception
    # classes are found through Typer's public ones rather than `import click`.
    usage_error: type[Exception] = next(
        c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
    )
    try:
        code = app(standalone_mode=False, prog_name="mlx")  # also under `python -m mlx`
    except typer.Abort:
        _print_error("interrupted", None)
        code = 130
    except usage_error as e:
        _show_usage_error(e)
        code = e.exit_code  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        _print_error("interrupted", None)
        code = 130
    except Exception as e:
        from mlx.errors import MlxError

        if not isinstance(e, MlxError) or os.environ.get("MLX_DEBUG"):
            raise
        _print_error(e.message, e.hint)
        code = e.exit_code
    sys.exit(code if isinstance(code, int) else 0)


def _show_usage_error(error: Exception) -> None:
    """A usage error in the same two lines as any other error (Click prints four)."""
    if type(error).__name__ == "NoArgsIsHelpError":  # `mlx train` alone: the help
        error.show()  # type: ignore[attr-defined]
        return
    context = getattr(error, "ctx", None)
    hint = f"`{context.command_path} --help` shows its usage." if context else None
    message = " ".join(error.format_message().split())  # type: ignore[attr-defined]
    _print_error(message, hint)


def _print_error(message: str, hint: Optional[str]) -> None:
    """``Error:`` and ``Hint:``, one line each: text from the user or a provider that made
    it into the message has its line breaks and control characters escaped."""
    from rich.markup import escape

    from mlx.console import err
    from mlx.text import printable

    err.print(f"[bold red]Error:[/] {escape(printable(message))}")
    if hint:
        err.print(f"[dim]Hint:[/] {escape(printable(hint))}")
