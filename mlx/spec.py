"""The job spec: pydantic models, loading with file/line errors, overrides and argv rendering.

This module is the backend author's manual for what a spec means. A loaded ``JobSpec`` is
validated in full: every backend may rely on the types and rules below.

Loading goes: YAML text -> (config file defaults, spec, ``--set`` overrides merged) ->
pydantic validation -> checks that need the file system (``code``, local inputs, the
command's script). Every failure is a ``SpecError`` naming file, line and field path.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from mlx.errors import SpecError
from mlx.flags import check_provider_flag  # `--provider`; spec-free, for `mlx jobs`
from mlx.runtime.argv import render_args
from mlx.runtime.compat_sagemaker import MODE as COMPAT_SAGEMAKER
from mlx.spec_argv import check_argv_fields
from mlx.spec_base import StrictModel, valid_duration
from mlx.units import AcceleratorRequest, parse_accelerator, parse_duration, parse_size_gb

# Valid as a job name on all three clouds once mlx adds its suffix (see ``mlx.ids``).
NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
NAME_MAX = 50
INPUT_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Schemes every provider reads; each provider adds its own stores' (``Provider.uri_schemes``).
COMMON_URI_SCHEMES = ("https", "http", "file")
OUTPUT_KINDS = ("model", "checkpoints", "output")
NUMBER_RE = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

Scalar = Union[bool, int, float, str]
# `compat: sagemaker` (mlx.runtime.compat_sagemaker): what a SageMaker bring-your-own
# container expects, on every provider; an empty command runs the image's `train`.
SAGEMAKER_ENTRY = "train"
_COMPAT_HELP = (
    "sagemaker: lay out /opt/ml (hyperparameters.json, input/data/<input>, model, output) "
    "for a SageMaker bring-your-own container, on every provider"
)


def _as_text(value: Any) -> Any:
    """YAML reads `3` and `true` as numbers and booleans; env values and args are text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class Resources(StrictModel):
    """What one node needs. The catalog turns this into each provider's machine type."""

    accelerator: Optional[str] = Field(
        None, description="type[:count] per node, e.g. A100:1, t4, H100:8; none = CPU only"
    )
    cpus: Optional[float] = Field(None, gt=0, description="at least this many vCPUs per node")
    memory: Optional[Union[str, float]] = Field(None, description="at least, e.g. 32GB")
    nodes: int = Field(1, ge=1, le=1024, description="> 1 runs multi-node training")
    instance_type: dict[str, str] = Field(
        default_factory=dict, description="per-provider machine type; always wins"
    )
    spot: bool = False
    max_runtime: Optional[Union[int, str]] = Field(None, description="e.g. 90m, 4h, 3600")
    disk: Optional[Union[str, float]] = Field(None, description="volume size per node, e.g. 100GB")
    max_cost: Optional[float] = Field(
        None, gt=0, description="dollars: refuse a job whose worst case costs more (`mlx price`)"
    )

    @field_validator("instance_type")
    @classmethod
    def _check_instance_type(cls, value: dict[str, str]) -> dict[str, str]:
        from mlx import providers

        for name in value:
            providers.get(name)  # an unknown provider, with the closest name
        return value

    @field_validator("accelerator", mode="before")
    @classmethod
    def _check_accelerator(cls, value: Any) -> Any:
        if value is not None:
            parse_accelerator(str(value))
        return value

    @field_validator("memory", "disk")
    @classmethod
    def _check_size(cls, value: Any) -> Any:
        if value is not None:
            parse_size_gb(value)
        return value

    @field_validator("max_runtime")
    @classmethod
    def _check_duration(cls, value: Any) -> Any:
        return valid_duration(value)

    @property
    def accelerator_request(self) -> Optional[AcceleratorRequest]:
        return parse_accelerator(self.accelerator)

    @property
    def memory_gb(self) -> Optional[float]:
        return None if self.memory is None else parse_size_gb(self.memory)

    @property
    def disk_gb(self) -> Optional[float]:
        return None if self.disk is None else parse_size_gb(self.disk)

    @property
    def max_runtime_seconds(self) -> Optional[int]:
        return None if self.max_runtime is None else parse_duration(self.max_runtime)


class Metric(StrictModel):
    """A number parsed from the job's stdout, e.g. ``val_loss=0.31``."""

    # What every platform's metric names have in common: one line of at most 255
    # characters (SageMaker's MetricDefinitions.Name is `.+`, 1-255: botocore's
    # data/sagemaker/2017-07-24/service-2.json, shape MetricName). A provider that takes
    # fewer characters (no spaces in a Vertex study's metric_id) refuses the rest when it
    # renders its request, not every provider.
    name: str = Field(min_length=1, max_length=255, description="e.g. val_loss")
    regex: Optional[str] = Field(
        None, description="one capture group; default: <name>[=:] *<number>"
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError(
                f"{value!r} must be one line of text with no leading or trailing spaces"
            )
        return value

    @field_validator("regex")
    @classmethod
    def _check_regex(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return value
        try:
            compiled = re.compile(value)
        except re.error as e:
            raise ValueError(f"not a valid regular expression ({e})") from None
        if compiled.groups < 1:
            raise ValueError("needs one capture group around the number, e.g. loss=([0-9.]+)")
        return value

    @property
    def pattern(self) -> str:
        return self.regex or default_metric_regex(self.name)


def default_metric_regex(name: str) -> str:
    """``val_loss`` matches ``val_loss=0.3`` and ``val_loss: 0.3``, not ``train_val_loss=``."""
    return rf"\b{re.escape(name)}[=:] *{NUMBER_RE}"


class Objective(StrictModel):
    metric: str
    goal: Literal["minimize", "maximize"] = "minimize"


class Parameter(StrictModel):
    """One dimension of the search space."""

    type: Literal["float", "int", "choice", "discrete"]
    min: Optional[float] = None
    max: Optional[float] = None
    scale: Literal["linear", "log"] = "linear"
    values: Optional[list[Scalar]] = None

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        if self.type in ("float", "int"):
            if self.min is None or self.max is None:
                raise ValueError(f"a {self.type} parameter needs `min` and `max`")
            if self.values is not None:
                raise ValueError(f"a {self.type} parameter takes `min`/`max`, not `values`")
            if self.min >= self.max:
                raise ValueError(f"`min` ({self.min:g}) must be less than `max` ({self.max:g})")
            if self.type == "int" and not (self.min.is_integer() and self.max.is_integer()):
                raise ValueError("an int parameter needs whole-number `min` and `max`")
            if self.scale == "log" and self.min <= 0:
                raise ValueError(f"`scale: log` needs `min` > 0 (got {self.min:g})")
            return self
        if self.min is not None or self.max is not None:
            raise ValueError(f"a {self.type} parameter takes `values`, not `min`/`max`")
        if not self.values:
            raise ValueError(f"a {self.type} parameter needs a non-empty `values` list")
        if self.scale != "linear":
            raise ValueError(f"`scale` applies to float and int parameters, not {self.type}")
        if self.type == "discrete":
            numbers = [v for v in self.values if isinstance(v, (int, float))]
            if len(numbers) != len(self.values) or any(isinstance(v, bool) for v in numbers):
                raise ValueError("`discrete` values must all be numbers (use `choice` for text)")
            if numbers != sorted(set(numbers)):
                raise ValueError("`discrete` values must be sorted ascending without repeats")
        return self


class Tune(StrictModel):
    """Hyperparameter search; sampled values are merged over ``hyperparameters``."""

    objective: Objective
    algorithm: Literal["bayesian", "random", "grid", "hyperband"] = "bayesian"
    engine: Optional[Literal["native", "mlx"]] = Field(
        None,
        description="who runs the search: native (the platform's tuner) or mlx (mlx's own "
        "search, each trial a training job on the provider); unset: chosen per provider",
    )
    max_trials: int = Field(10, ge=1, le=10_000)
    parallel_trials: int = Field(1, ge=1, le=1_000)
    early_stopping: bool = False
    seed: Optional[int] = Field(None, description="seed for the search (reproducible runs)")
    max_resource: Optional[int] = Field(
        None,
        ge=1,
        description="hyperband: the most intermediate values (epochs) a trial reports; "
        "a trial that reaches it is done",
    )
    parameters: dict[str, Parameter] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Tune:
        if self.parallel_trials > self.max_trials:
            raise ValueError(
                f"`parallel_trials` ({self.parallel_trials}) must not exceed "
                f"`max_trials` ({self.max_trials})"
            )
        if self.algorithm == "grid":
            floats = [name for name, p in self.parameters.items() if p.type == "float"]
            if floats:
                raise ValueError(
                    f"`grid` searches int, choice and discrete parameters only; "
                    f"`{floats[0]}` is a float (make it discrete, or pick another algorithm)"
                )
        if self.algorithm == "hyperband" and not self.early_stopping:
            raise ValueError("`hyperband` stops trials early: set `early_stopping: true`")
        if self.max_resource is not None and self.algorithm != "hyperband":
            raise ValueError("`max_resource` is a `hyperband` setting")
        return self


BoolStyle = Literal["flag", "value"]
_BOOL_HELP = (
    "how `args_style: flags` renders true/false: flag (--name, or nothing; argparse "
    "store_true) or value (--name True / --name False; strtobool); or a mapping of "
    "hyperparameter -> flag|value (the others: flag)"
)
_IMAGE_HELP = (
    "container image; required on clouds. Or one per provider, e.g. {sagemaker: <ECR URI>, "
    "vertex: <image>}: a registry one cloud pulls from may be closed to another"
)
_IMAGE_SCHEMA = {
    "anyOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "null"},
    ],
    "description": _IMAGE_HELP,
}


def image_for(images: dict[str, Any], provider: Optional[str]) -> Any:
    """The image of ``provider`` in a per-provider ``image:`` mapping (None where the
    provider runs without one); a ValueError names what is wrong with the mapping."""
    import difflib

    from mlx.providers import Capability, get, names

    known = names()
    for key in images:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            suggestion = f"; did you mean `{close[0]}`?" if close else ""
            raise ValueError(f"`{key}` is not a provider (known: {', '.join(known)}){suggestion}")
    if provider is None or provider not in known:
        return None  # the provider's own error is reported
    if provider in images:
        return images[provider]
    if get(provider).can(Capability.NEEDS_IMAGE):
        raise ValueError(
            f"no image for {provider}: the mapping names one for "
            f"{', '.join(images) or 'no provider'}; add `{provider}: <image>`"
        )
    return None


class JobSpec(StrictModel):
    """A training (and optionally tuning) job, independent of where it runs."""

    name: str = Field(description="job name prefix; mlx appends a unique suffix")
    provider: str = Field(
        default_factory=lambda: _default_provider(),
        description="where it runs: a registered provider (`mlx doctor`)",
    )
    image: Annotated[Optional[str], WithJsonSchema(_IMAGE_SCHEMA)] = Field(
        None, description=_IMAGE_HELP
    )
    compat: Optional[str] = Field(
        None, description=_COMPAT_HELP, json_schema_extra={"enum": [COMPAT_SAGEMAKER, None]}
    )
    command: Union[str, list[str]] = Field(
        description="string (shell-split) or list; with `compat: sagemaker` it may be "
        "empty or left out (SageMaker's `train`)"
    )
    code: Optional[str] = Field(None, description="source dir, relative to the spec file")
    install_requirements: bool = Field(
        True,
        description="install `code`'s requirements.txt before the command (local: "
        "only with --isolated; otherwise it warns about what is missing)",
    )
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    args_style: Literal["flags", "hydra"] = "flags"
    bool_style: Union[BoolStyle, dict[str, BoolStyle]] = Field("flag", description=_BOOL_HELP)
    args: list[str] = Field(default_factory=list, description="literal args, before the rest")
    inputs: dict[str, str] = Field(default_factory=dict, description="name -> URI or path")
    outputs: dict[Literal["model", "checkpoints", "output"], Optional[str]] = Field(
        default_factory=dict
    )
    resources: Resources = Field(default_factory=Resources)
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="NAME: env:VARIABLE")
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="key: value, sent as the provider's tags or labels; `mlx jobs --tag K=V`",
    )
    metrics: list[Metric] = Field(default_factory=list)
    tune: Optional[Tune] = None
    # One block per registered provider that has settings (`sagemaker:`, ...): fields of
    # the model ``spec_model()`` builds from the registry.

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default="<spec>")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not NAME_RE.match(value) or len(value) > NAME_MAX:
            raise ValueError(
                f"{value!r} must be 1-{NAME_MAX} letters, digits and single or repeated "
                f"hyphens, starting and ending with a letter or digit (e.g. iris-logreg)"
            )
        return value

    @field_validator("image", mode="before")
    @classmethod
    def _pick_image(cls, value: Any, info: ValidationInfo) -> Any:
        # `provider` is validated before `image` (field order): a mapping gives its image.
        if not isinstance(value, dict):
            return value
        return image_for(value, info.data.get("provider"))

    @model_validator(mode="before")
    @classmethod
    def _default_command(cls, data: Any) -> Any:
        # A SageMaker bring-your-own container needs no command: its image's `train` runs.
        if isinstance(data, dict) and data.get("compat") == COMPAT_SAGEMAKER:
            return {"command": [], **data}
        return data

    @field_validator("compat")
    @classmethod
    def _check_compat(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value != COMPAT_SAGEMAKER:
            raise ValueError(f"must be {COMPAT_SAGEMAKER} (or left out), not {value!r}")
        return value

    @field_validator("command")
    @classmethod
    def _check_command(
        cls, value: Union[str, list[str]], info: ValidationInfo
    ) -> Union[str, list[str]]:
        if isinstance(value, str):
            try:
                parts = shlex.split(value)
            except ValueError as e:
                raise ValueError(f"cannot split the command ({e}); check its quotes") from None
        else:
            parts = value
        if not parts and info.data.get("compat") != COMPAT_SAGEMAKER:
            raise ValueError("must not be empty (only `compat: sagemaker` runs the image's train)")
        return value

    @field_validator("hyperparameters")
    @classmethod
    def _check_hyperparameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if not key or key != key.strip():
                raise ValueError(f"hyperparameter name {key!r} must be non-empty, no spaces")
            values = item if isinstance(item, list) else [item]
            for v in values:
                if not (v is None or isinstance(v, (bool, int, float, str))) or (
                    v is None and isinstance(item, list)
                ):
                    raise ValueError(
                        f"`{key}` must be a number, string, true/false, null or a list of "
                        f"those (got {type(v).__name__})"
                    )
        return value

    @field_validator("args", "env", "tags", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_text(v) for v in value]
        if isinstance(value, dict):
            return {k: _as_text(v) for k, v in value.items()}
        return value

    @field_validator("inputs")
    @classmethod
    def _check_inputs(cls, value: dict[str, str]) -> dict[str, str]:
        for name, uri in value.items():
            if not INPUT_NAME_RE.match(name):
                raise ValueError(
                    f"input name {name!r} must start with a letter and use letters, digits, "
                    f"`_` or `-`"
                )
            scheme = uri_scheme(uri)
            if scheme and scheme not in uri_schemes():
                raise ValueError(
                    f"`{name}`: unsupported URI scheme {scheme}:// "
                    f"(supported: {', '.join(uri_schemes())} or a local path)"
                )
        return value

    @field_validator("env", "secrets")
    @classmethod
    def _check_env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME_RE.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
        return value

    @field_validator("secrets")
    @classmethod
    def _check_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name, ref in value.items():
            if not ref.startswith("env:") or not ENV_NAME_RE.match(ref[4:]):
                raise ValueError(
                    f"`{name}` must be a reference like env:{name}, never the secret itself"
                )
        return value

    @model_validator(mode="after")
    def _check_cross_fields(self) -> JobSpec:
        names = [m.name for m in self.metrics]
        duplicated = {n for n in names if names.count(n) > 1}
        if duplicated:
            raise ValueError(f"metric `{sorted(duplicated)[0]}` is defined twice in `metrics`")
        if self.compat and self.tune:
            raise ValueError(
                "`compat: sagemaker` runs training jobs; a tuning job's trials get their values "
                "as arguments on some providers: remove `compat` or `tune`"
            )
        if self.tune and self.tune.objective.metric not in names:
            known = ", ".join(names) or "none defined"
            raise ValueError(
                f"`tune.objective.metric` {self.tune.objective.metric!r} must be one of "
                f"`metrics` ({known}); add it under `metrics:`"
            )
        return self

    # -- what backends use -------------------------------------------------------------

    def provider_settings(self, name: str) -> Any:
        """The validated settings block of provider ``name`` (its settings model), or None
        when that provider has no settings."""
        return getattr(self, name, None)

    @property
    def base_dir(self) -> Path:
        """The spec file's directory: ``code`` and local inputs are relative to it."""
        return self._base_dir

    @property
    def source(self) -> str:
        return self._source

    def command_argv(self) -> list[str]:
        argv = shlex.split(self.command) if isinstance(self.command, str) else list(self.command)
        # Empty only with `compat: sagemaker`: SageMaker runs `docker run IMAGE train`.
        return argv or [SAGEMAKER_ENTRY]

    def argv(self, hyperparameters: Optional[dict[str, Any]] = None) -> list[str]:
        """The full argv the training script sees: command, ``args``, rendered hyperparameters."""
        hps = self.hyperparameters if hyperparameters is None else hyperparameters
        if self.compat == COMPAT_SAGEMAKER:  # they reach it in hyperparameters.json
            hps = {}
        rendered = render_args(hps, self.args_style, self.bool_style)
        return [*self.command_argv(), *self.args, *rendered]

    def code_dir(self) -> Optional[Path]:
        return None if self.code is None else (self.base_dir / self.code).resolve()

    def local_input_path(self, name: str) -> Optional[Path]:
        """The local path of input ``name``, or None when it is a remote URI."""
        uri = self.inputs[name]
        scheme = uri_scheme(uri)
        if scheme == "file":
            return Path(uri[len("file://") :])
        if scheme:
            return None
        return (self.base_dir / os.path.expanduser(uri)).resolve()


def spec_model() -> type[JobSpec]:
    """``JobSpec`` with what the registered providers add: ``provider`` limited to their
    names, and one settings block per provider that has settings."""
    from mlx import providers

    return _spec_model(providers.generation())


@functools.lru_cache(maxsize=1)
def _spec_model(generation: int) -> type[JobSpec]:
    from pydantic import create_model

    from mlx import providers

    blocks: dict[str, Any] = {}
    for provider in providers.providers():
        settings = provider.settings_model()
        if settings is not None:
            blocks[provider.name] = (settings, Field(default_factory=settings))
    # Literal[("a", "b")] is Literal["a", "b"]: pydantic names the allowed values in errors.
    allowed: Any = Literal[tuple(providers.names())]
    blocks["provider"] = (allowed, Field(providers.default_name(), description=_PROVIDER_HELP))
    model: type[JobSpec] = create_model("JobSpec", __base__=JobSpec, __module__=__name__, **blocks)
    return model


_PROVIDER_HELP = "where the job runs (--provider wins)"


def _default_provider() -> str:
    from mlx import providers

    return providers.default_name()


def uri_schemes() -> tuple[str, ...]:
    """The URI schemes an input may use: the registered providers' own, then the common."""
    from mlx import providers

    own = (scheme for p in providers.providers() for scheme in p.uri_schemes)
    return tuple(dict.fromkeys((*own, *COMMON_URI_SCHEMES)))


def settings_blocks() -> tuple[str, ...]:
    """Top-level keys that are provider settings blocks (also allowed in the config file)."""
    from mlx import providers

    return tuple(p.name for p in providers.providers() if p.settings)


def spec_from_record(data: dict[str, Any], base_dir: str, source: str) -> JobSpec:
    """A spec saved in the store (``model_dump``), made whole again (paths included)."""
    spec = spec_model().model_validate(data)
    spec._base_dir = Path(base_dir)
    spec._source = source
    return spec


def uri_scheme(uri: str) -> Optional[str]:
    """``s3`` for ``s3://b/k``; None for a local path (including ``C:\\data``)."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+)://", uri)
    return match.group(1).lower() if match else None


# -- loading ------------------------------------------------------------------------------


def load_spec(
    path: Union[str, Path],
    overrides: Optional[list[str]] = None,
    provider: Optional[str] = None,
    profile: Optional[str] = None,
    defaults: Optional[dict[str, Any]] = None,
) -> JobSpec:
    """Load, merge and validate a spec file.

    Args:
        path: the YAML spec.
        overrides: ``KEY=VALUE`` strings from ``--set``; VALUE is parsed as YAML.
        provider: ``--provider``; wins over ``$MLX_PROVIDER``, the spec and the config file.
        profile: the config-file profile to use (default ``$MLX_PROFILE``).
        defaults: fields under everything else, even the config file (``--rehearse``'s
            stand-in settings).

    Raises:
        SpecError: naming file, line and field path, with a hint.
    """
    from mlx.settings import deep_merge, load_config
    from mlx.yamlfile import load_yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            f"spec file {str(path)!r} not found",
            hint="Check the path, e.g. configs/quickstart.yaml",
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"cannot read spec file {str(path)!r}: {e}") from None
    doc = load_yaml(text, str(path))
    if doc.data is None:
        raise SpecError(f"{path}: the spec is empty", hint="See configs/quickstart.yaml.")
    if not isinstance(doc.data, dict):
        raise SpecError(f"{path}: the spec must be a mapping of fields (name:, command:, ...)")

    config = load_config(profile)
    check_config_keys(config)
    config_defaults = {k: v for k, v in config.items() if k in ("provider", *settings_blocks())}
    data = deep_merge(deep_merge(defaults or {}, config_defaults), doc.data)
    overridden: dict[tuple[str, ...], str] = {}
    for item in overrides or []:
        key_path, value = parse_override(item)
        data = apply_override(data, key_path, value)
        overridden[key_path] = f"--set {item}"
    env_provider = os.environ.get("MLX_PROVIDER")
    if provider:
        check_provider_flag(provider)
    if provider or env_provider:
        data["provider"] = provider or env_provider
        overridden[("provider",)] = "--provider" if provider else "MLX_PROVIDER"

    _refuse_nul(data, doc, overridden)
    model = spec_model()
    try:
        spec = model.model_validate(data)
    except ValidationError as e:
        from mlx.spec_errors import spec_error

        raise spec_error(e, doc, data, overridden, model) from None
    spec._base_dir = path.resolve().parent
    spec._source = str(path)
    _check_files(spec, doc)
    check_argv_fields(spec, doc, overridden)  # placeholders, bool_style
    return spec


def _refuse_nul(data: Any, doc: Any, overridden: dict[tuple[str, ...], str]) -> None:
    """No text in a spec may hold a NUL byte: no argument, path or environment variable can
    (``execve`` and ``open`` take C strings), so the job could only fail later, unseen."""
    path = _nul_at(data, ())
    if path is None:
        return
    field = ".".join(str(part).encode("unicode_escape").decode() for part in path)
    given = [flag for key, flag in overridden.items() if tuple(path[: len(key)]) == key]
    where = given[-1] if given else doc.where(path)
    raise SpecError(
        f"{where}: `{field}` contains a NUL byte (\\0)",
        hint="No argument, path or environment variable can hold one; remove it.",
    )


def _nul_at(value: Any, path: tuple[Any, ...]) -> Optional[tuple[Any, ...]]:
    """The field path of the first text (key or value) under ``value`` holding a NUL byte."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if not isinstance(value, (dict, list)):
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        found = _nul_at(item, (*path, key))
        if found is not None:
            return found
    return None


def check_config_keys(config: dict[str, Any]) -> None:
    """The config file holds ``provider``, ``profiles`` and provider blocks only, each block
    valid for its provider: ``mlx.config_file.check_config``."""
    from mlx.config_file import check_config

    check_config(config)


def check_for_provider(spec: JobSpec, provider: str) -> None:
    """Rules that hold only where the job runs (a cloud needs an image)."""
    from mlx.providers import Capability, get

    if get(provider).can(Capability.NEEDS_IMAGE) and not spec.image:
        raise SpecError(
            f"{spec.source}: `image` is required to run on {provider}",
            hint=get(provider).image_hint
            or "Set `image:` to a container image with Python, e.g. python:3.11-slim.",
        )


def _check_files(spec: JobSpec, doc: Any) -> None:
    code = spec.code_dir()
    if code is not None and not code.is_dir():
        raise SpecError(
            f"{doc.where(('code',))}: `code` directory {spec.code!r} does not exist "
            f"(looked in {code})",
            hint="`code` is relative to the spec file's directory.",
        )
    for name in spec.inputs:
        local = spec.local_input_path(name)
        if local is not None and not local.exists():
            raise SpecError(
                f"{doc.where(('inputs', name))}: `inputs.{name}`: {spec.inputs[name]!r} does "
                f"not exist (looked in {local})",
                hint="Local inputs are relative to the spec file; or give a URI (s3://, gs://).",
            )
    if _runs_here(spec.provider) or code is not None:
        workdir = code or spec.base_dir
        for token in spec.command_argv():
            if _looks_like_script(token) and not (workdir / token).exists():
                raise SpecError(
                    f"{doc.where(('command',))}: `command` runs {token!r}, which is not in "
                    f"{workdir}",
                    hint="The command runs in `code` (or the spec's directory without it).",
                )


def _runs_here(provider: str) -> bool:
    from mlx.providers import Capability, get

    return get(provider).can(Capability.RUNS_HERE)


def _looks_like_script(token: str) -> bool:
    return not token.startswith("-") and "=" not in token and token.endswith((".py", ".sh"))


def parse_override(item: str) -> tuple[tuple[str, ...], Any]:
    """``resources.nodes=2`` -> (("resources", "nodes"), 2).

    VALUE is YAML, read by the spec files' loader and rules (``mlx.yamlfile``: only
    true/false are booleans; depth, aliases and numbers are bounded); text that is not YAML
    at all is taken as it is.
    """
    from mlx.yamlfile import YamlSyntaxError, load_value

    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise SpecError(
            f"--set {item!r}: expected KEY=VALUE", hint="e.g. --set hyperparameters.lr=0.1"
        )
    parts = key.strip().split(".")
    # Free-form mappings take the rest as one key, so `hyperparameters.model.lr` works.
    if parts[0] in ("hyperparameters", "env", "secrets", "inputs") and len(parts) > 2:
        parts = [parts[0], ".".join(parts[1:])]
    if any(not p for p in parts):
        raise SpecError(f"--set {item!r}: empty part in key {key!r}")
    try:
        value = load_value(raw, f"--set {key.strip()}") if raw.strip() else ""
    except YamlSyntaxError:
        value = raw
    return tuple(parts), value


def apply_override(data: dict[str, Any], key_path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``key_path`` set to ``value``, creating mappings on the way."""
    from mlx.settings import deep_merge

    nested: Any = value
    for part in reversed(key_path):
        nested = {part: nested}
    return deep_merge(data, nested)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file, for editors (``mlx schema``)."""
    schema = spec_model().model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlx job spec"
    return schema
