"""Edge values are clear one-line errors, never tracebacks (issue 16, items 9 and 10):
`--set` reads VALUE with the spec files' loader and rules; absurd durations, sizes and
numbers, NUL bytes, and out-of-range command options."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from mlx.model import JobRecord, JobState
from mlx.store import Store
from mlx.units import parse_duration, parse_size_gb
from tests.conftest import write

SPEC = "name: edge\ncommand: python train.py\nhyperparameters:\n  opt: sgd\n"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    write(tmp_path / "train.py", "print('hi')\n")
    write(tmp_path / "src" / "x.py", "")
    return write(tmp_path / "job.yaml", SPEC)


def argv(mlx: Any, spec: Path, *sets: str) -> list[str]:
    result = mlx("translate", spec, "--json", *(a for s in sets for a in ("--set", s)))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["request"]["argv"]


def error(mlx: Any, *args: Any) -> list[str]:
    result = mlx(*args)
    assert result.exit_code == 1, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) <= 2 and lines[0].startswith("Error: "), result.stderr
    return lines


# -- item 9: one loader, one set of rules ------------------------------------------------


@pytest.mark.parametrize("value", ["no", "yes", "off", "on", "n", "Y"])
def test_set_keeps_yaml_1_1_booleans_as_text_like_the_file_does(
    mlx: Any, spec: Path, value: str
) -> None:
    from_set = argv(mlx, spec, f"hyperparameters.opt={value}")
    spec.write_text(SPEC.replace("opt: sgd", f"opt: {value}"))
    assert from_set == argv(mlx, spec) == ["python", "train.py", "--opt", value]


def test_set_true_and_false_are_still_booleans(mlx: Any, spec: Path) -> None:
    assert argv(mlx, spec, "hyperparameters.opt=true") == ["python", "train.py", "--opt"]
    assert argv(mlx, spec, "hyperparameters.opt=false") == ["python", "train.py"]


def test_set_has_the_file_loaders_depth_alias_and_number_limits(mlx: Any, spec: Path) -> None:
    nested = "[" * 1000 + "]" * 1000
    assert error(mlx, "translate", spec, "--set", f"hyperparameters.x={nested}") == [
        "Error: --set hyperparameters.x:1: the document nests deeper than 64 levels",
        "Hint: A job spec is a few levels deep; check for runaway anchors or indentation.",
    ]
    bomb = (
        "[&a [x,x,x,x,x,x,x,x,x,x]"
        + "".join(
            f", &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]" for i in range(6)
        )
        + "]"
    )
    lines = error(mlx, "translate", spec, "--set", f"hyperparameters.x={bomb}")
    assert "expands to more than 100,000 values" in lines[0]
    lines = error(mlx, "translate", spec, "--set", "hyperparameters.x=" + "7" * 5000)
    assert lines[0] == "Error: --set hyperparameters.x:1: a number of 5,000 digits (at most 4,300)"


def test_text_that_is_not_yaml_is_taken_as_it_is(mlx: Any, spec: Path) -> None:
    assert argv(mlx, spec, "hyperparameters.opt=[oops") == ["python", "train.py", "--opt", "[oops"]


# -- item 10: edge values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runtime", "message"),
    [
        (
            "10000000000000000000000000000h",
            "'10000000000000000000000000000h' is longer than 10 years",
        ),
        ("9" * 400 + "s", "'99999999999999999999...99999999' has more than 30 digits"),
        ("1" + "0" * 400, "a number of about 400 digits is not a duration: it is far too large"),
        ("3651d", "'3651d' is longer than 10 years"),
    ],
)
def test_absurd_max_runtime_is_refused(mlx: Any, spec: Path, runtime: str, message: str) -> None:
    lines = error(mlx, "translate", spec, "--set", f"resources.max_runtime={runtime}")
    assert lines[0].endswith(f"`resources.max_runtime`: {message}"), lines


def test_a_number_over_4300_digits_in_a_spec_file_names_its_line(mlx: Any, spec: Path) -> None:
    spec.write_text(SPEC + "resources:\n  nodes: " + "1" * 4301 + "\n")
    assert error(mlx, "translate", spec) == [
        f"Error: {spec}:6: a number of 4,301 digits (at most 4,300)",
        "Hint: Quote it if it is meant as text.",
    ]


@pytest.mark.parametrize(
    "value",
    [10**400, "9" * 400, float("inf"), "3651d", "0.1s", "1e400"],
)
def test_parse_duration_refuses_absurd_values(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_parse_size_refuses_absurd_values() -> None:
    for value in (10**400, "9" * 400 + "GB", float("inf"), "2000000TB"):
        with pytest.raises(ValueError):
            parse_size_gb(value)
    assert parse_size_gb("1024TB") == 2**20


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("code", '"src\\0"', "code"),
        ("command", '"python train.py\\0 --x"', "command"),
        ("command", '[python, "train\\0.py"]', "command.1"),
        ("inputs", '{train: "data\\0"}', "inputs.train"),
        ("outputs", '{model: "/tmp/out\\0"}', "outputs.model"),
        ("env", '{"A\\0B": x}', "env.A\\x00B"),
        ("env", '{A: "x\\0y"}', "env.A"),
        ("hyperparameters", '{lr: "0.1\\0"}', "hyperparameters.lr"),
    ],
)
def test_nul_bytes_are_refused_naming_the_field(
    mlx: Any, spec: Path, field: str, value: str, shown: str
) -> None:
    text = SPEC.replace("hyperparameters:\n  opt: sgd\n", "")
    text = text.replace("command: python train.py\n", "") if field == "command" else text
    spec.write_text(text + f"{field}: {value}\n")
    for command in ("translate", "train"):
        lines = error(mlx, command, spec)
        assert lines[0].endswith(f": `{shown}` contains a NUL byte (\\0)"), lines
    assert not (Path(os.environ["MLX_HOME"]) / "jobs").exists()  # nothing was started


def test_nul_byte_through_set_names_the_flag(mlx: Any, spec: Path) -> None:
    lines = error(mlx, "translate", spec, "--set", 'env.X="a\\0b"')
    assert lines[0] == 'Error: --set env.X="a\\0b": `env.X` contains a NUL byte (\\0)'


def seed_job() -> str:
    now = time.time()
    job = "edge-aaaaaa"
    Store(Path(os.environ["MLX_HOME"]) / "jobs.db").insert(
        JobRecord(job, "local", "edge", JobState.SUCCEEDED, {}, now, now)
    )
    log = Path(os.environ["MLX_HOME"]) / "jobs" / job / "logs" / "node-0.log"
    write(log, "2026-01-01T00:00:00.000000Z\tone\n2026-01-01T00:00:01.000000Z\ttwo\n")
    return job


def test_out_of_range_options_are_clear(mlx: Any) -> None:
    job = seed_job()
    nines = "9" * 400
    assert error(mlx, "jobs", "--since", f"{nines}d")[0] == (
        "Error: --since: '99999999999999999999...99999999' has more than 30 digits"
    )
    assert error(mlx, "logs", job, "--since", "99999999999d")[0] == (
        "Error: --since: '99999999999d' is longer than 10 years"
    )
    assert error(mlx, "logs", job, "--since", "9999-99-99")[0].startswith("Error: --since '9999")
    huge = mlx("logs", job, "--tail", "1" + "0" * 23)  # more lines than any log: all of them
    assert (huge.exit_code, huge.stdout) == (0, "one\ntwo\n")
    many = mlx("jobs", "--limit", "1" + "0" * 20, "--json")
    assert many.exit_code == 0 and [j["id"] for j in json.loads(many.stdout)] == [job]
    for args in (["logs", job, "--tail", "1e23"], ["jobs", "--limit", "1e20"]):
        result = mlx(*args)
        assert result.exit_code == 2
        assert len(result.stderr.splitlines()) == 2, result.stderr
        assert result.stderr.startswith("Error: Invalid value for")
        assert result.stderr.splitlines()[1] == f"Hint: `mlx {args[0]} --help` shows its usage."
    assert error(mlx, "logs", job, "--grep", "a{99999999999999999999}")[0].startswith(
        "Error: --grep 'a{99999999999999999999}' is not a valid regular expression"
    )
