"""Loading specs: what a user sees for good and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlx.errors import SpecError
from mlx.spec import load_spec
from tests.conftest import write

GOOD = """\
name: demo
command: python train.py
hyperparameters:
  lr: 0.01
resources:
  accelerator: A100:1
  nodes: 1
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "train.py", "print('hi')\n")
    return tmp_path


def spec_file(project: Path, text: str) -> Path:
    return write(project / "job.yaml", text)


def test_good_spec_loads_with_parsed_units(project: Path) -> None:
    path = spec_file(project, GOOD + "  memory: 32GB\n  max_runtime: 90m\n")
    spec = load_spec(path)
    assert spec.resources.accelerator_request == ("A100", 1)
    assert spec.resources.memory_gb == 32
    assert spec.resources.max_runtime_seconds == 5400
    assert spec.argv() == ["python", "train.py", "--lr", "0.01"]
    assert spec.base_dir == project


def test_set_overrides_parse_values_as_yaml(project: Path) -> None:
    spec = load_spec(
        spec_file(project, GOOD),
        [
            "hyperparameters.lr=0.5",
            "hyperparameters.layers=[1, 2]",
            "resources.nodes=2",
            "hyperparameters.model.depth=3",
        ],
    )
    assert spec.hyperparameters == {"lr": 0.5, "layers": [1, 2], "model.depth": 3}
    assert spec.resources.nodes == 2


def test_provider_precedence_cli_over_env_over_spec(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = spec_file(project, GOOD + "provider: azure\n")
    assert load_spec(path).provider == "azure"
    monkeypatch.setenv("MLX_PROVIDER", "vertex")
    assert load_spec(path).provider == "vertex"
    assert load_spec(path, provider="sagemaker").provider == "sagemaker"


def test_config_file_fills_provider_blocks_under_the_spec(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        project / "config.yaml",
        "sagemaker: {role: arn:aws:iam::1:role/base, bucket: cfg-bucket}\n"
        "profiles:\n  prod:\n    sagemaker: {bucket: prod-bucket}\n",
    )
    monkeypatch.setenv("MLX_CONFIG", str(config))
    path = spec_file(project, GOOD + "sagemaker: {bucket: spec-bucket}\n")
    spec = load_spec(path)
    assert (spec.sagemaker.role, spec.sagemaker.bucket) == (
        "arn:aws:iam::1:role/base",
        "spec-bucket",
    )
    spec = load_spec(spec_file(project, GOOD), profile="prod")
    assert spec.sagemaker.bucket == "prod-bucket"


def test_yaml_1_1_booleans_stay_strings(project: Path) -> None:
    spec = load_spec(spec_file(project, GOOD + "env: {MODE: off, FAST: yes}\n"))
    assert spec.env == {"MODE": "off", "FAST": "yes"}


# -- what users see for bad input (through the real CLI) -------------------------------

BAD_SPECS = [
    ("bad yaml", "name: demo\ncommand: [python\n", "job.yaml:3", "Hint:"),
    (
        "unknown key",
        GOOD.replace("  nodes: 1", "  acclerator: T4"),
        "job.yaml:7",
        "unknown field `resources.acclerator`; did you mean `resources.accelerator`?",
    ),
    (
        "wrong type",
        GOOD.replace("nodes: 1", "nodes: many"),
        "job.yaml:7",
        "`resources.nodes`: input should be a valid integer",
    ),
    (
        "zero nodes",
        GOOD.replace("nodes: 1", "nodes: 0"),
        "job.yaml:7",
        "`resources.nodes`: input should be greater than or equal to 1 (got 0)",
    ),
    (
        "bad accelerator",
        GOOD.replace("A100:1", "A1000:1"),
        "job.yaml:6",
        "unknown accelerator 'A1000'; did you mean A100?",
    ),
    (
        "bad duration",
        GOOD + "  max_runtime: 4 hours\n",
        "job.yaml:8",
        "`resources.max_runtime`: '4 hours' is not a duration",
    ),
    (
        "missing command file",
        GOOD.replace("train.py", "trian.py"),
        "job.yaml:2",
        "`command` runs 'trian.py', which is not in",
    ),
    ("missing field", "name: demo\n", "job.yaml", "`command`: is required"),
    ("bad name", GOOD.replace("name: demo", "name: my_job!"), "job.yaml:1", "`name`"),
    ("duplicate key", GOOD + "name: again\n", "job.yaml:8", "duplicate key `name`"),
    (
        "log scale needs min > 0",
        GOOD + "metrics: [{name: loss}]\ntune:\n  objective: {metric: loss}\n  parameters:\n"
        "    lr: {type: float, min: 0, max: 1, scale: log}\n",
        "job.yaml:13",
        "`tune.parameters.lr`: `scale: log` needs `min` > 0",
    ),
    (
        "objective not a metric",
        GOOD
        + "tune:\n  objective: {metric: loss}\n  parameters:\n"
        + "    lr: {type: int, min: 1, max: 3}\n",
        "job.yaml",
        "`tune.objective.metric` 'loss' must be one of `metrics`",
    ),
    (
        "secret literal",
        GOOD + "secrets: {TOKEN: hunter2}\n",
        "job.yaml:9",
        "must be a reference like env:TOKEN",
    ),
]


@pytest.mark.parametrize(
    ("case", "text", "where", "message"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS]
)
def test_bad_spec_is_one_clean_error(
    mlx, project: Path, case: str, text: str, where: str, message: str
) -> None:
    path = spec_file(project, text)
    result = mlx("translate", path)
    assert result.exit_code == 1, result
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"Error: {path.parent}/{where}") or first.startswith(
        f"Error: {path}"
    ), first
    assert message in result.stderr
    assert "Hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_spec_file(mlx, tmp_path: Path) -> None:
    result = mlx("train", tmp_path / "nope.yaml")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: spec file '{tmp_path / 'nope.yaml'}' not found")


def test_bad_override_names_the_flag(mlx, project: Path) -> None:
    result = mlx("translate", spec_file(project, GOOD), "--set", "resources.nodes=0")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: --set resources.nodes=0: `resources.nodes`: input should be greater"
    )


def test_billion_laughs_is_refused(mlx, project: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    result = mlx("translate", spec_file(project, "\n".join(lines) + "\n" + GOOD))
    assert result.exit_code == 1
    assert "expands to more than 100,000 values" in result.stderr


def test_schema_is_json_schema_of_the_spec(mlx) -> None:
    result = mlx("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "mlx job spec"
    assert {"name", "command", "resources", "tune"} <= set(schema["properties"])
    assert schema["required"] == ["name", "command"]


yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
spec_keys = st.sampled_from(
    [
        "name",
        "command",
        "resources",
        "hyperparameters",
        "inputs",
        "tune",
        "metrics",
        "env",
        "secrets",
        "provider",
        "code",
        "args",
        "outputs",
        "image",
        "args_style",
        "nodes",
    ]
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.dictionaries(spec_keys, yaml_values, max_size=8).map(
            lambda d: __import__("yaml").safe_dump(d)
        ),
    )
)
def test_loader_never_raises_anything_but_spec_error(project: Path, text: str) -> None:
    path = project / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_spec(path)
    except SpecError as e:
        assert str(e).strip()


def test_a_typo_in_the_config_file_is_named_with_the_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(project / "elsewhere.yaml", "sagemker: {bucket: cfg-bucket}\n")
    monkeypatch.setenv("MLX_CONFIG", str(config))
    with pytest.raises(SpecError) as raised:
        load_spec(spec_file(project, GOOD))
    assert raised.value.message == f"{config}: unknown key `sagemker`; did you mean `sagemaker`?"
