"""Packs ``mlx.runtime``, and each registered provider's platform adapter
(``Provider.runtime_adapter``), into one zipapp that any Python 3.8+ in any image can run.

The archive is byte-for-byte reproducible (fixed timestamps, sorted entries), so its
SHA-256 names it: a cloud backend uploads it once per mlx version, and local jobs run the
very same files, unpacked once and compiled for this Python (``unpacked_bootstrap``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path

import mlx.runtime

_MAIN = b"import sys\nfrom mlx.runtime.bootstrap import main\nsys.exit(main())\n"


@functools.lru_cache(maxsize=1)
def bootstrap_bytes() -> bytes:
    """The zipapp's bytes: ``mlx/__init__.py`` (empty), ``mlx/runtime/*.py``, the platform
    adapters (their packages' ``__init__.py`` empty), ``__main__.py``."""
    runtime_dir = Path(mlx.runtime.__file__).parent
    files = {"__main__.py": _MAIN, "mlx/__init__.py": b""}
    for source in sorted(runtime_dir.glob("*.py")):
        if source.name != "__main__.py":
            files[f"mlx/runtime/{source.name}"] = source.read_bytes()
    for module in _adapter_modules():
        files.update(_module_files(module))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return b"#!/usr/bin/env python3\n" + buffer.getvalue()


def _adapter_modules() -> list[str]:
    from mlx.providers import providers

    return sorted({p.runtime_adapter for p in providers() if p.runtime_adapter})


def _module_files(module: str) -> dict[str, bytes]:
    """``module``'s source at its package path, with empty ``__init__.py`` above it (the
    packages' own ``__init__`` may import what the job's image does not have)."""
    import importlib.util

    found = importlib.util.find_spec(module)
    if found is None or not found.origin:
        raise ImportError(f"platform adapter {module!r} not found", name=module)
    parts = module.split(".")
    files = {"/".join(parts[:i]) + "/__init__.py": b"" for i in range(1, len(parts))}
    files["/".join(parts) + ".py"] = Path(found.origin).read_bytes()
    return files


def _cached_name(data: bytes) -> str:
    """The name of the zipapp ``data`` in a cache: its digest (plus ``.pyz``, or unpacked)."""
    return f"mlx-bootstrap-{hashlib.sha256(data).hexdigest()[:16]}"


def bootstrap_path(cache_dir: Path, *, write: bool = True) -> Path:
    """The zipapp in ``cache_dir``, written atomically the first time it is needed."""
    data = bootstrap_bytes()
    path = cache_dir / f"{_cached_name(data)}.pyz"
    if write and not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path


def unpacked_bootstrap(cache_dir: Path, *, write: bool = True) -> Path:
    """The zipapp's files unpacked into a folder of ``cache_dir``, each module compiled for
    this Python: what local jobs run (``python -S <folder>`` runs its ``__main__.py``).

    Python uses no bytecode from a zip it did not find there, and the zipapp holds none
    (bytecode is per Python version; the cloud's may differ): every start from it compiled
    the ~75 KB of ``mlx.runtime`` again, ~25 ms of a local trial's ~100 ms. The folder is
    written once, whole (unpacked beside it, then renamed into place), and named by the
    zipapp's digest, so it holds exactly the zipapp's files.
    """
    data = bootstrap_bytes()
    folder = cache_dir / _cached_name(data)
    if write and not (folder / "__main__.py").is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{folder.name}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # mlx's own: no hostile names
            archive.extractall(tmp)
        _compile_all(tmp)
        if folder.exists() and not (folder / "__main__.py").is_file():  # damaged: renamed
            shutil.rmtree(folder, ignore_errors=True)  # into place whole, it has one
        try:
            os.rename(tmp, folder)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (folder / "__main__.py").is_file():
                raise
            # else another process put it there first: the same files
    return folder


def _compile_all(folder: Path) -> None:
    """Bytecode in ``__pycache__`` beside each module, as an import would write it;
    unchecked: the sources never change under their digest's name."""
    import importlib.util
    import py_compile

    for source in sorted(folder.rglob("*.py")):
        if source.name == "__main__.py":  # the script Python runs is never cached
            continue
        py_compile.compile(
            str(source),
            cfile=importlib.util.cache_from_source(str(source)),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
