"""The provider registry: what each provider declares about itself, read at run time.

Every provider - the four built in and any third party - arrives the same way: an entry
point in the ``mlx.providers`` group naming its ``Provider`` descriptor (see
``pyproject.toml``). The descriptor holds import paths, not classes, so reading the
registry imports no SDK and no backend; ``backend_for`` imports one when it is used.

The rest of mlx asks a provider what it can do (``Capability``) instead of comparing its
name: ``if Capability.RUNS_HERE in provider.capabilities``, never ``if name == "local"``.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Optional

from mlx.cloud.pacing import Pacing
from mlx.errors import BackendUnavailable, MlxError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mlx.backends.base import Backend

ENTRY_POINT_GROUP = "mlx.providers"


class Capability(str, Enum):
    """What a provider can do; the core asks these, never a provider's name."""

    TUNING = "tuning"  # runs `mlx tune`
    RESUME_TUNING = "resume-tuning"  # `mlx tune --resume` restarts its search driver
    ADOPT = "adopt"  # `provider:native-id` finds jobs mlx did not launch
    RUNS_HERE = "runs-here"  # jobs run on this machine: nothing is uploaded or created remotely
    NEEDS_IMAGE = "needs-image"  # a container image is required

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Machines:
    """How a provider names machines, for the catalog (``mlx.catalog``).

    Attributes:
        catalog: the instance table, ``package:relative/path.csv`` (package data).
        accelerator_type: ``module:function`` giving the provider's spelling of an
            accelerator where its request takes the accelerator and its count as fields of
            their own (then any listed machine without a GPU may take one, in the count
            asked); None where the machine type includes the GPU.
        instance_prefix: every machine type starts with this (``ml.``); a name without it
            is refused before any call, with a suggestion.
    """

    catalog: str
    accelerator_type: Optional[str] = None
    instance_prefix: Optional[str] = None


@dataclass(frozen=True)
class Provider:
    """One provider, as it declares itself.

    Attributes:
        name: the spec's ``provider:`` value and the key of its settings block.
        title: how people call it (``AWS SageMaker``).
        backend: ``module:Class`` of its ``Backend``, imported on first use.
        extra: the pip extra that installs its SDKs (``mlx-jobs[<extra>]``); None when
            it needs none.
        sdk_modules: the modules its backend imports (``mlx doctor`` checks them without
            importing them).
        settings: ``module:Class`` of the pydantic model of its spec block (also allowed
            in the config file); None when it has no settings.
        credentials: ``module:function`` returning where credentials were found (a short
            text) or None, without a network call (``mlx doctor``).
        login_hint: what to run when no credentials are found.
        capabilities: what it can do.
        machines: its instance catalog; None when it has none (jobs run on this machine).
        pacing: its poll and retry intervals (``mlx.cloud.pacing``).
        uri_schemes: the schemes of its object stores that inputs may use (``s3``).
        runtime_adapter: the module of the in-job bootstrap (``mlx.runtime``, standard
            library only) that adapts a job to the platform: its paths, trial arguments,
            ranks and the tuner's metrics channel; None when the runtime config says all.
        runner: ``module:Class`` of its platform runner (``mlx.runner.host.PlatformRunner``):
            runs its requests on this machine the way the platform would (``--rehearse``,
            and the emulated clouds of the tests); None when it has none.
        rehearsal_settings: settings a rehearsal uses where neither the spec nor the config
            file gives them (a bucket, a project): no cloud is called, so any valid name
            serves, and ``--rehearse`` works without an account.
        rank: where it is listed (``mlx doctor``, ``mlx price``): lower first, then by name.
        image_hint: what to set ``image:`` to when a spec has none (an image this
            provider can pull); None: any image with Python.
    """

    name: str
    title: str
    backend: str
    extra: Optional[str] = None
    sdk_modules: tuple[str, ...] = ()
    settings: Optional[str] = None
    credentials: Optional[str] = None
    login_hint: Optional[str] = None
    capabilities: frozenset[Capability] = frozenset()
    machines: Optional[Machines] = None
    pacing: Pacing = field(default_factory=Pacing)
    rank: int = 100
    uri_schemes: tuple[str, ...] = ()
    runtime_adapter: Optional[str] = None
    runner: Optional[str] = None
    rehearsal_settings: tuple[tuple[str, str], ...] = ()
    image_hint: Optional[str] = None

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def settings_model(self) -> Optional[type[BaseModel]]:
        return load_object(self.settings) if self.settings else None

    def find_credentials(self) -> Optional[str]:
        return load_object(self.credentials)() if self.credentials else None

    @property
    def install_hint(self) -> Optional[str]:
        return f"pip install 'mlx-jobs[{self.extra}]'" if self.extra else None


def load_object(target: str) -> Any:
    """The object ``module:attribute`` names."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def declared_entry_points() -> list[tuple[str, str]]:
    """``(name, "module:attribute")`` of every ``mlx.providers`` entry point of the
    distributions on ``sys.path``; of entries with one name, the first on the path wins
    (as the first distribution of a name does for ``importlib.metadata``).

    Reads the ``entry_points.txt`` files directly: ``importlib.metadata`` costs about 30 ms
    to import and scan here, more than the rest of ``mlx jobs`` (a test checks that both
    find the same entries).
    """
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for directory in sys.path:
        try:
            names = sorted(os.listdir(directory or "."))
        except OSError:  # not a directory (a zip), or gone
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            distribution = name.rsplit("-", 1)[0] if "-" in name else name.rsplit(".", 1)[0]
            key = distribution.lower().replace("-", "_")
            if key in seen:
                continue
            seen.add(key)
            found.extend(_group_entries(os.path.join(directory or ".", name, "entry_points.txt")))
    return list({name: (name, target) for name, target in reversed(found)}.values())[::-1]


def _group_entries(path: str) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    entries, section = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == ENTRY_POINT_GROUP and "=" in line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            entries.append((name.strip(), value.strip()))
    return entries


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, Provider]:
    found: dict[str, Provider] = {}
    for name, target in declared_entry_points():
        try:
            provider = load_object(target)
        except Exception as e:  # a broken plugin must not take mlx down with it
            from mlx.console import warn

            warn(f"provider {name!r} ({target}) cannot be loaded: {e}")
            continue
        if not isinstance(provider, Provider) or provider.name in found:
            continue
        found[provider.name] = provider
    if not found:
        raise MlxError(
            "no providers are registered: mlx is not installed as a package",
            hint="pip install -e . (in a checkout) or pip install mlx-jobs",
        )
    return dict(sorted(found.items(), key=lambda item: (item[1].rank, item[0])))


def providers() -> list[Provider]:
    """Every registered provider, by rank, then by name."""
    return list(_registry().values())


def names() -> list[str]:
    return list(_registry())


def get(name: str) -> Provider:
    """The provider called ``name``.

    Raises:
        MlxError: no such provider (with the closest name, if one is close).
    """
    found = _registry().get(name)
    if found is None:
        import difflib

        close = difflib.get_close_matches(name, names(), n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        raise MlxError(
            f"unknown provider {name!r}{guess}", hint=f"Use one of: {', '.join(names())}."
        )
    return found


def default_name() -> str:
    """The provider a spec without ``provider:`` runs on: the first that runs here."""
    return next((p.name for p in providers() if p.can(Capability.RUNS_HERE)), names()[0])


def runs_here(name: str) -> bool:
    """Whether provider ``name``'s jobs run on this machine."""
    return get(name).can(Capability.RUNS_HERE)


def rehearsal_defaults() -> dict[str, dict[str, str]]:
    """Each rehearsable provider's ``rehearsal_settings``, as spec blocks."""
    return {p.name: dict(p.rehearsal_settings) for p in providers() if p.runner}


def with_capability(capability: Capability) -> list[Provider]:
    return [p for p in providers() if p.can(capability)]


_backends: dict[str, Backend] = {}
_backends_lock = threading.Lock()


def backend_for(name: str) -> Backend:
    """Provider ``name``'s backend, created once per process (it caches its SDK clients per
    settings, so commands and the tuner's threads share connections).

    Raises:
        BackendUnavailable: the provider's SDK is not installed.
    """
    provider = get(name)
    with _backends_lock:
        if name not in _backends:
            _check_installed(provider)
            try:
                cls: Callable[[], Backend] = load_object(provider.backend)
            except ImportError as e:
                raise BackendUnavailable(
                    f"the {name} backend needs {e.name or 'a package that is not installed'}",
                    hint=provider.install_hint,
                ) from e
            _backends[name] = cls()
        return _backends[name]


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package
        return False


def _check_installed(provider: Provider) -> None:
    """Name the first of the provider's SDK modules that is missing, before its backend is
    imported (an import deep inside a command would fail later and less clearly)."""
    for module in provider.sdk_modules:
        if not installed(module):
            raise BackendUnavailable(
                f"the {provider.name} backend needs {module}, which is not installed",
                hint=provider.install_hint,
            )


_generation = 0


def generation() -> int:
    """Changes whenever the registry is read anew, for caches built from it (the spec
    model)."""
    return _generation


def reset() -> None:
    """Forget the registry and every backend (and its clients): the next use reads the
    entry points again. For tests that register a provider or start new servers."""
    global _generation
    _registry.cache_clear()
    with _backends_lock:
        _backends.clear()
    _generation += 1
