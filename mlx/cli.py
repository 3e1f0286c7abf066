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
from mlx.cli_examples import examples
from mlx.help_format import Command, Group

app = typer.Typer(
    name="mlx",
    cls=Group,
    help="Run training and tuning jobs in the cloud or on this machine, from one YAML job spec.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    pretty_exceptions_show_locals=False,  # locals hold credentials
    context_settings={"help_option_names": ["-h", "--help"]},
)

ProviderOpt = typer.Option(
    None,
    "--provider",
    "-p",
    metavar="NAME",
    help="Where the job runs (overrides the spec); `mlx doctor` lists them.",
)
# Metavars say what to type (KEY=VALUE, GLOB), and flags show none, so help reads the same
# whatever Typer release renders it (newer ones print Python types: `<list[str]>`, `<bool>`).
SetOpt = typer.Option(
    None, "--set", metavar="KEY=VALUE", help="Override a spec field (VALUE is YAML)."
)
JsonOpt = typer.Option(
    False, "--json", metavar="", help="Print a JSON document on stdout (for scripts)."
)
ProfileOpt = typer.Option(None, "--profile", metavar="NAME", help="Config-file profile to use.")
TrialOpt = typer.Option(
    None, "--trial", metavar="N|best", help="A trial of a tuning job: its number, or best."
)
IsolatedOpt = typer.Option(
    False,
    "--isolated",
    metavar="",
    help="Local: install code's requirements.txt into a virtual environment of the job's "
    "own (the same as `local: {isolated: true}`).",
)
RehearseOpt = typer.Option(
    False,
    "--rehearse",
    metavar="",
    help="Run the exact cloud job on this machine, with its platform's layout and rules: "
    "no credentials, no cloud call, no bill.",
)


def _complete_job(incomplete: str) -> list[str]:
    """Job ids for the shell's <TAB> (``mlx --install-completion``)."""
    from mlx.completion import job_ids

    return job_ids(incomplete)


JobArg = typer.Argument(
    ...,
    metavar="JOB",
    help="Job id, unique prefix, or provider:native-id.",
    autocompletion=_complete_job,
)
SpecArg = typer.Argument(..., metavar="SPEC", help="The job spec (YAML).")


def _version(value: bool) -> None:
    if value:
        print(f"mlx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        metavar="",
        callback=_version,
        is_eager=True,
        help="Show the version and exit.",
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


def _use_profile(profile: Optional[str]) -> None:
    """``--profile`` on commands that take a JOB or list jobs: the config-file profile whose
    provider blocks reach jobs mlx did not launch (``sagemaker:<name>`` is looked up with
    them), as ``$MLX_PROFILE`` does."""
    if profile:
        os.environ["MLX_PROFILE"] = profile


def _find(store: Any, job: str, trial: Optional[str] = None) -> Any:
    from mlx.lookup import find_job, find_trial

    record = find_job(store, job)
    if trial is not None:
        record = find_trial(store, record, trial)
    return record


@app.command(epilog=examples("train"), cls=Command)
def train(
    spec: Path = SpecArg,
    provider: Optional[str] = ProviderOpt,
    set_: Optional[list[str]] = SetOpt,
    detach: bool = typer.Option(
        False, "--detach", "-d", metavar="", help="Return once the job started."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", metavar="", help="Print the request; start nothing."
    ),
    rehearse: bool = RehearseOpt,
    isolated: bool = IsolatedOpt,
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Run a training job and stream its logs until it ends."""
    from mlx import commands

    set_ = [*(set_ or []), *(["local.isolated=true"] if isolated else [])]
    job_spec = _load(spec, provider, set_, profile, rehearse)
    if dry_run:
        commands.print_translation(job_spec, json_)
        return
    commands.train(job_spec, _store(), detach=detach, as_json=json_, rehearse=rehearse)


@app.command(epilog=examples("tune"), cls=Command)
def tune(
    spec: Optional[Path] = typer.Argument(
        None, metavar="SPEC", help="The job spec (YAML) with a `tune:` block."
    ),
    provider: Optional[str] = ProviderOpt,
    set_: Optional[list[str]] = SetOpt,
    detach: bool = typer.Option(
        False, "--detach", "-d", metavar="", help="Return once the search started."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", metavar="", help="Print the request; start nothing."
    ),
    resume: Optional[str] = typer.Option(
        None, "--resume", metavar="JOB", help="Continue a tuning job by id."
    ),
    rehearse: bool = RehearseOpt,
    isolated: bool = IsolatedOpt,
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
    set_ = [*(set_ or []), *(["local.isolated=true"] if isolated else [])]
    job_spec = _load(spec, provider, set_, profile, rehearse)
    if dry_run:
        commands.print_translation(job_spec, json_, tuning=True)
        return
    commands.tune(job_spec, _store(), detach=detach, as_json=json_, rehearse=rehearse)


@app.command(epilog=examples("logs"), cls=Command)
def logs(
    job: str = JobArg,
    follow: bool = typer.Option(
        False, "--follow", "-f", metavar="", help="Keep printing until the job ends."
    ),
    since: Optional[str] = typer.Option(
        None, "--since", metavar="AGE|TIME", help="Only lines newer: 10m, 2h, 2w, ISO time."
    ),
    tail: Optional[int] = typer.Option(
        None, "--tail", "-n", min=0, metavar="N", help="Only the last N lines."
    ),
    grep: Optional[str] = typer.Option(
        None, "--grep", metavar="REGEX", help="Only lines matching this regex."
    ),
    node: Optional[int] = typer.Option(
        None, "--node", min=0, metavar="N", help="Only this node's lines."
    ),
    trial: Optional[str] = TrialOpt,
    timestamps: bool = typer.Option(
        False, "--timestamps", "-t", metavar="", help="Show each line's time (local, dated)."
    ),
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Print a job's logs (all nodes, merged by time)."""
    from mlx import commands
    from mlx.flags import compile_grep, parse_since
    from mlx.model import LogQuery

    compile_grep(grep)  # a bad pattern is a clear error before anything is read
    _use_profile(profile)
    store = _store()
    record = _find(store, job, trial)
    query = LogQuery(follow=follow, since=parse_since(since), tail=tail, node=node, grep=grep)
    commands.logs(record, store, query, timestamps=timestamps)


@app.command("pull-artifacts", epilog=examples("pull-artifacts"), cls=Command)
def pull_artifacts(
    job: str = JobArg,
    include: Optional[list[str]] = typer.Option(
        None, "--include", "-i", metavar="GLOB", help="Glob to fetch."
    ),
    exclude: Optional[list[str]] = typer.Option(
        None, "--exclude", "-x", metavar="GLOB", help="Glob to skip."
    ),
    dest: Optional[Path] = typer.Option(
        None, "--dest", metavar="DIR", help="Target dir (default ./<job-id>)."
    ),
    list_: bool = typer.Option(
        False, "--list", "-l", metavar="", help="List the files; fetch nothing."
    ),
    trial: Optional[str] = TrialOpt,
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Fetch some or all of a job's artifacts, file by file."""
    from mlx import commands

    _use_profile(profile)
    store = _store()
    record = _find(store, job, trial)
    commands.pull(record, include or [], exclude or [], dest or Path(record.id), list_, json_)


@app.command(epilog=examples("tensorboard"), cls=Command)
def tensorboard(
    jobs: list[str] = typer.Argument(
        ...,
        metavar="JOB",
        help="Job ids, unique prefixes, or provider:native-id.",
        autocompletion=_complete_job,
    ),
    sync_only: Optional[Path] = typer.Option(
        None, "--sync-only", metavar="DIR", help="Copy the event files to DIR; serve nothing."
    ),
    prefix: Optional[str] = typer.Option(
        None,
        "--prefix",
        metavar="URI",
        help="The job's TensorBoard folder (s3://, gs://, "
        "azureml://), for a job mlx did not launch.",
    ),
    port: Optional[int] = typer.Option(
        None,
        "--port",
        min=1,
        max=65535,
        metavar="N",
        help="TensorBoard's port (default: the first free from 6006).",
    ),
    once: bool = typer.Option(False, "--once", metavar="", help="One round of copying."),
    every: float = typer.Option(
        5.0, "--every", min=0.05, metavar="SECONDS", help="Seconds between rounds."
    ),
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Copy jobs' TensorBoard files as they grow (only new bytes) and serve them locally."""
    from mlx.tensorboard.command import Options
    from mlx.tensorboard.command import tensorboard as run

    _use_profile(profile)
    options = Options(sync_only, prefix, port, once, every, json_)
    run(jobs, _store(), options)


@app.command(epilog=examples("jobs"), cls=Command)
def jobs(
    provider: Optional[str] = typer.Option(
        None, "--provider", "-p", metavar="NAME", help="Only this provider."
    ),
    status: Optional[list[str]] = typer.Option(
        None, "--status", "-s", metavar="STATE", help="Only this state."
    ),
    since: Optional[str] = typer.Option(
        None, "--since", metavar="AGE|TIME", help="Only newer: 2h, 1d, 2w, ISO time."
    ),
    limit: int = typer.Option(
        50, "--limit", "-n", min=1, metavar="N", help="At most this many jobs."
    ),
    prune: bool = typer.Option(
        False, "--prune", metavar="", help="Forget the jobs whose submit failed (nothing ran)."
    ),
    tag: Optional[list[str]] = typer.Option(
        None, "--tag", metavar="KEY=VALUE", help="Only jobs with this tag (spec `tags:`)."
    ),
    remote: bool = typer.Option(
        False, "--remote", metavar="", help="The cloud's own list (-p), mlx's jobs marked."
    ),
    cost: bool = typer.Option(
        False, "--cost", metavar="", help="What each job cost (so far, while it runs)."
    ),
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """List jobs, newest first."""
    from mlx.listing import list_jobs

    _use_profile(profile)
    if prune:
        from mlx.prune import prune_command

        prune_command(_store(), provider, json_)
        return
    if remote:
        from mlx.remote import list_remote_command

        list_remote_command(_store(), provider, limit, json_)
        return
    from mlx.flags import parse_tags

    tags = parse_tags(tag or [])
    list_jobs(_store(), provider, status or [], since, limit, json_, tags=tags, cost=cost)


@app.command(epilog=examples("status"), cls=Command)
def status(
    job: str = JobArg,
    trial: Optional[str] = TrialOpt,
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Show a job's state, metrics and where its artifacts are."""
    from mlx import commands

    _use_profile(profile)
    store = _store()
    commands.status(_find(store, job, trial), store, json_)


@app.command(epilog=examples("cancel"), cls=Command)
def cancel(
    job: str = JobArg,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Stop a running job (every node, every trial)."""
    from mlx import commands

    _use_profile(profile)
    store = _store()
    commands.cancel(_find(store, job), store)


@app.command(epilog=examples("translate"), cls=Command)
def translate(
    spec: Path = SpecArg,
    provider: Optional[str] = ProviderOpt,
    set_: Optional[list[str]] = SetOpt,
    tune: bool = typer.Option(False, "--tune", metavar="", help="The tuning request instead."),
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Print the exact request mlx would send; nothing is called."""
    from mlx import commands

    commands.print_translation(_load(spec, provider, set_, profile), json_, tuning=tune)


@app.command(epilog=examples("price"), cls=Command)
def price(
    spec: Optional[Path] = typer.Argument(None, metavar="SPEC", help="The job spec (YAML)."),
    set_: Optional[list[str]] = SetOpt,
    refresh: bool = typer.Option(
        False,
        "--refresh",
        metavar="",
        help="First fetch current prices from the providers' public price APIs (network).",
    ),
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Compare what the job would cost on each cloud (offline price tables)."""
    from mlx.catalog.pricing import price_command

    if spec is None and not refresh:
        raise typer.BadParameter("give a SPEC, or --refresh", param_hint="SPEC")
    job_spec = None if spec is None else _load(spec, None, set_, profile)
    if refresh:  # for the spec's regions where it names them
        from mlx.catalog.refresh import refresh_command, spec_regions

        refresh_command(as_json=json_ and job_spec is None, regions=spec_regions(job_spec))
    if job_spec is None:
        return
    trials = job_spec.tune.max_trials if job_spec.tune is not None else None
    price_command(job_spec.resources, as_json=json_, trials=trials, spec=job_spec)


@app.command(epilog=examples("schema"), cls=Command)
def schema() -> None:
    """Print the JSON Schema of job specs (for editor autocompletion)."""
    from mlx.console import print_json
    from mlx.spec import json_schema

    print_json(json_schema())


@app.command("open", epilog=examples("open"), cls=Command)
def open_(
    job: str = JobArg,
    web: bool = typer.Option(False, "--web", "-w", metavar="", help="Also open it in a browser."),
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Print the URL of a job's page in its cloud's web console."""
    from mlx.weblinks import open_command

    _use_profile(profile)
    open_command(_find(_store(), job), web, json_)


@app.command(epilog=examples("rerun"), cls=Command)
def rerun(
    job: str = JobArg,
    set_: Optional[list[str]] = SetOpt,
    provider: Optional[str] = ProviderOpt,
    detach: bool = typer.Option(
        False, "--detach", "-d", metavar="", help="Return once the job started."
    ),
    rehearse: bool = RehearseOpt,
    json_: bool = JsonOpt,
    profile: Optional[str] = ProfileOpt,
) -> None:
    """Run a job again from the spec it ran with; --set changes it."""
    from mlx import commands
    from mlx.console import err
    from mlx.rerun import rerun_spec

    store = _store()
    record = _find(store, job)
    spec = rerun_spec(record, set_ or [], provider, profile)
    err.print(f"Rerunning {record.id}")
    rehearse = rehearse or bool(record.rehearsal)
    launch = commands.tune if record.is_tuning else commands.train
    launch(spec, store, detach=detach, as_json=json_, rehearse=rehearse)


@app.command(epilog=examples("init"), cls=Command)
def init(
    script: Optional[Path] = typer.Argument(
        None, help="A training script whose argparse flags become hyperparameters (not run)."
    ),
    output: Path = typer.Option(
        Path("job.yaml"),
        "--output",
        "-o",
        metavar="FILE",
        help="The spec file to write (never overwritten).",
    ),
) -> None:
    """Write a job spec, from an existing script's argparse flags."""
    from mlx.scaffold import init_command

    init_command(script, output)


@app.command(epilog=examples("doctor"), cls=Command)
def doctor(
    json_: bool = JsonOpt,
    repair: bool = typer.Option(
        False,
        "--repair",
        metavar="",
        help="Keep a damaged job store aside and start a new one.",
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
        from mlx.errors import Interrupted, MlxError

        if not isinstance(e, MlxError) or os.environ.get("MLX_DEBUG"):
            raise
        if isinstance(e, Interrupted):  # Ctrl-C detached on purpose: news, not an error
            _print_detached(e.message, e.hint)
        else:
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


def _print_detached(message: str, hint: Optional[str]) -> None:
    """Ctrl-C while following or watching: the job runs on; say so, and how to come back
    (exit 130, as DESIGN.md's exit codes say), without an ``Error:`` in red."""
    from rich.markup import escape

    from mlx.console import err
    from mlx.text import printable

    err.print(escape(printable(message[:1].upper() + message[1:])) + ".")
    if hint:
        err.print(escape(printable(hint)))


def _print_error(message: str, hint: Optional[str]) -> None:
    """``Error:`` and ``Hint:``, one line each: text from the user or a provider that made
    it into the message has its line breaks and control characters escaped."""
    from rich.markup import escape

    from mlx.console import err
    from mlx.text import printable

    err.print(f"[bold red]Error:[/] {escape(printable(message))}")
    if hint:
        err.print(f"[dim]Hint:[/] {escape(printable(hint))}")
