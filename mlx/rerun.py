"""``mlx rerun JOB``: a job's stored spec, launched again (``--set`` and ``--provider``
laid over it, as over a spec file).

The store keeps the spec each job ran with (``JobRecord.spec``, the config file's blocks
already merged in) and where its file was (``info.base_dir``, ``info.source``), so ``code``
and local inputs are found again, relative to the original spec file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from mlx.errors import MlxError, SpecError
from mlx.model import JobRecord
from mlx.spec import JobSpec


class _StoredSpec:
    """Where a validation error points: the job's stored spec (there is no file line)."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record

    def where(self, path: tuple[Any, ...]) -> str:
        return f"the stored spec of {self.record.id}"


def rerun_spec(
    record: JobRecord,
    overrides: list[str],
    provider: Optional[str] = None,
    profile: Optional[str] = None,
) -> JobSpec:
    """``record``'s spec with ``overrides`` (``--set``) and ``provider`` laid over it.

    Provider blocks the job left unset (stored as null) are filled from the config file,
    so a job rerun elsewhere (``--provider``) finds that provider's settings.

    Raises:
        MlxError: the job is a trial or an adopted job (no spec mlx can launch), or its
            spec's folder is gone.
        SpecError: the spec with the overrides does not validate (naming the ``--set``).
    """
    from pydantic import ValidationError

    from mlx.spec import apply_override, check_provider_flag, parse_override, spec_model

    _check_rerunnable(record)
    data = _with_config(record.spec, profile)
    overridden: dict[tuple[str, ...], str] = {}
    for item in overrides:
        key_path, value = parse_override(item)
        data = apply_override(data, key_path, value)
        overridden[key_path] = f"--set {item}"
    if provider:
        check_provider_flag(provider)
        data["provider"] = provider
        overridden[("provider",)] = "--provider"
    model = spec_model()
    try:
        spec = model.model_validate(data)
    except ValidationError as e:
        from mlx.spec_errors import spec_error

        raise spec_error(e, _StoredSpec(record), data, overridden, model) from None
    spec._base_dir = Path(str(record.info["base_dir"]))
    spec._source = str(record.info.get("source") or f"<spec of {record.id}>")
    _check_code(spec, record)
    from mlx.spec_argv import check_argv_fields

    check_argv_fields(spec, _StoredSpec(record), overridden)  # placeholders, bool_style
    return spec


def _check_rerunnable(record: JobRecord) -> None:
    if record.is_trial:
        raise MlxError(
            f"{record.id} is a trial of {record.parent_id}; a trial is not rerun on its own",
            hint=f"`mlx rerun {record.parent_id}` reruns the search; `mlx status "
            f"{record.id} --json` shows the trial's values, to --set on a training job.",
        )
    if record.info.get("adopted") or "base_dir" not in record.info:
        raise MlxError(
            f"{record.id} was not launched by mlx: there is no spec to run again",
            hint="Write a spec for it (`mlx init SCRIPT` starts one) and `mlx train` it.",
        )


def _with_config(stored: dict[str, Any], profile: Optional[str]) -> dict[str, Any]:
    """The stored spec over the config file's provider blocks: a block's null settings
    (left unset when the job ran) take the config file's values."""
    from mlx.settings import deep_merge, load_config
    from mlx.spec import check_config_keys, settings_blocks

    config = load_config(profile)
    check_config_keys(config)
    blocks = settings_blocks()
    data = {k: v for k, v in stored.items() if not (k in blocks and v is None)}
    for name in blocks:
        if isinstance(data.get(name), dict):
            data[name] = {k: v for k, v in data[name].items() if v is not None}
    under = {k: v for k, v in config.items() if k in blocks}
    return deep_merge(under, data)


def _check_code(spec: JobSpec, record: JobRecord) -> None:
    code = spec.code_dir()
    if code is not None and not os.path.isdir(code):
        raise SpecError(
            f"the code folder of {record.id}, {code}, is gone",
            hint="Run `mlx train` on the spec file again, or restore the folder.",
        )
