"""Arbitrary specs, `--set` items and option values through the real CLI (issue 16): every
command exits 0, 1 or 2, says what is wrong in at most two lines (an ``Error:`` and a
``Hint:``; warnings aside), and never shows a traceback.

In process (the ``mlx`` fixture), no network: job references never name a cloud provider
(that would ask it), `train` and `tune` only with ``--dry-run``, pulls only ``--list`` or
into this test's folder. Bounded: the whole file takes well under 30 s.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlx.model import JobRecord, JobState
from mlx.store import Store
from tests.conftest import write

JOB = "fuzz-aaaaaa"
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    database=None,  # nothing written beside the tests
    derandomize=True,  # the same examples on every run: a failure is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a shell can pass as one argument: anything but NUL (and lone surrogates, which
# are not text), plus values known to hurt parsers.
argument_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24
)
nasty = st.sampled_from(
    [
        "",
        "-1",
        "0",
        "1e23",
        "9" * 400,
        "9" * 400 + "d",
        "99999999999999999999",
        "nan",
        "-inf",
        "\n",
        "\x1b[31m",
        "$(touch x)",
        "../..",
        "%s%n",
        "${{inputs.x}}",
        "[" * 200,
        "{a: *b}",
        "&a [*a]",
        '"\\0"',
        "a{99999999999}",
        "(" * 300,
        "2026-13-45",
        "local:x",
        "nope:../x",
        "best",
    ]
)
value = st.one_of(nasty, argument_text, st.integers().map(str))
job_ref = st.one_of(
    st.just(JOB),
    st.just(JOB[:6]),
    value.filter(lambda v: ":" not in v or v.startswith(("local:", "nope:"))),
)
set_key = st.sampled_from(
    [
        "name",
        "command",
        "code",
        "image",
        "provider",
        "args",
        "hyperparameters.lr",
        "hyperparameters.a.b",
        "env.X",
        "secrets.S",
        "inputs.train",
        "outputs.model",
        "resources.nodes",
        "resources.max_runtime",
        "resources.memory",
        "resources.accelerator",
        "tune.max_trials",
        "metrics",
        "nope",
        "",
        "a..b",
    ]
)
set_item = st.one_of(st.tuples(set_key, value).map(lambda kv: f"{kv[0]}={kv[1]}"), value)
provider = st.one_of(st.none(), st.sampled_from(["local", "sagemaker", "vertex", "azure"]), value)

yaml_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), argument_text, nasty
)
yaml_value = st.recursive(
    yaml_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(argument_text, inner, max_size=3)
    ),
    max_leaves=12,
)
spec_key = st.sampled_from(
    [
        "name",
        "command",
        "code",
        "image",
        "provider",
        "args",
        "args_style",
        "hyperparameters",
        "inputs",
        "outputs",
        "resources",
        "env",
        "secrets",
        "metrics",
        "tune",
        "sagemaker",
        "vertex",
        "azure",
        "unknown",
    ]
)
spec_text = st.one_of(
    st.dictionaries(spec_key, yaml_value, max_size=6).map(
        lambda d: yaml.safe_dump({"name": "fuzz", "command": "python train.py", **d})
    ),
    argument_text,
)


def check(mlx: Any, *args: Optional[str]) -> None:
    """Run ``mlx args`` (None dropped) and hold it to the promise."""
    argv = [a for a in args if a is not None]
    result = mlx(*argv)  # an exception that is not an MlxError propagates: the test fails
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr, (argv, result.stderr)
    said = [line for line in result.stderr.splitlines() if not line.startswith("Warning: ")]
    assert len(said) <= 2, (argv, result.stderr)
    if result.exit_code:
        assert said and said[0].startswith("Error: "), (argv, result.stderr)
        assert all(line.startswith(("Error: ", "Hint: ")) for line in said), (argv, result.stderr)


def seed() -> None:
    """A finished local job with a log line and an artifact, for the job commands."""
    home = Path(os.environ["MLX_HOME"])
    if (home / "jobs.db").exists():
        return
    now = time.time()
    Store(home / "jobs.db").insert(
        JobRecord(JOB, "local", "fuzz", JobState.SUCCEEDED, {"name": "fuzz"}, now, now)
    )
    write(home / "jobs" / JOB / "logs" / "node-0.log", "2026-01-01T00:00:00.000000Z\thello\n")
    write(home / "jobs" / JOB / "artifacts" / "model" / "w.bin", "w")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path / "train.py", "print('hi')\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@SETTINGS
@given(text=spec_text, sets=st.lists(set_item, max_size=3), chosen=provider, tune=st.booleans())
def test_any_spec_and_set_items(
    mlx: Any, project: Path, text: str, sets: list[str], chosen: Optional[str], tune: bool
) -> None:
    spec = project / "fuzz.yaml"
    spec.write_text(text, encoding="utf-8")
    flags = [a for item in sets for a in ("--set", item)]
    check(
        mlx,
        "translate",
        str(spec),
        *flags,
        *(["--provider", chosen] if chosen else []),
        "--tune" if tune else None,
    )
    check(mlx, "train", str(spec), "--dry-run", *flags)
    check(mlx, "price", str(spec), *flags)


@SETTINGS
@given(
    ref=job_ref,
    since=st.one_of(st.none(), value),
    tail=st.one_of(st.none(), value),
    grep=st.one_of(st.none(), value),
    node=st.one_of(st.none(), value),
    trial=st.one_of(st.none(), value),
)
def test_any_options_of_the_job_commands(
    mlx: Any,
    project: Path,
    ref: str,
    since: Optional[str],
    tail: Optional[str],
    grep: Optional[str],
    node: Optional[str],
    trial: Optional[str],
) -> None:
    seed()

    def option(name: str, given_value: Optional[str]) -> list[str]:
        return [] if given_value is None else [f"{name}={given_value}"]

    check(
        mlx,
        "logs",
        ref,
        *option("--since", since),
        *option("--tail", tail),
        *option("--grep", grep),
        *option("--node", node),
        *option("--trial", trial),
    )
    check(mlx, "status", ref, *option("--trial", trial), "--json")
    check(mlx, "cancel", ref)
    check(mlx, "tune", "--resume", ref)


@SETTINGS
@given(
    ref=job_ref,
    include=st.lists(value, max_size=2),
    exclude=st.lists(value, max_size=2),
    chosen=provider,
    status=st.lists(value, max_size=2),
    since=st.one_of(st.none(), value),
    limit=st.one_of(st.none(), value),
)
def test_any_options_of_the_listing_commands(
    mlx: Any,
    project: Path,
    ref: str,
    include: list[str],
    exclude: list[str],
    chosen: Optional[str],
    status: list[str],
    since: Optional[str],
    limit: Optional[str],
) -> None:
    seed()
    globs = [f"--include={g}" for g in include] + [f"--exclude={g}" for g in exclude]
    check(mlx, "pull-artifacts", ref, *globs, "--list")
    check(mlx, "pull-artifacts", ref, *globs, "--dest", str(project / "pulled"), "--json")
    listing = [f"--status={s}" for s in status]
    listing += [] if chosen is None else [f"--provider={chosen}"]
    listing += [] if since is None else [f"--since={since}"]
    listing += [] if limit is None else [f"--limit={limit}"]
    check(mlx, "jobs", *listing)
    check(mlx, "doctor", "--json")
