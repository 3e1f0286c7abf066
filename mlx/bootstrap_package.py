"""Packs ``mlx.runtime`` into one zipapp that any Python 3.8+ in any image can run.

The archive is byte-for-byte reproducible (fixed timestamps, sorted entries), so its
SHA-256 names it: a cloud backend uploads it once per mlx version, and local jobs run the
very same file.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import zipfile
from pathlib import Path

import mlx.runtime

_MAIN = b"import sys\nfrom mlx.runtime.bootstrap import main\nsys.exit(main())\n"


@functools.lru_cache(maxsize=1)
def bootstrap_bytes() -> bytes:
    """The zipapp's bytes: ``mlx/__init__.py`` (empty), ``mlx/runtime/*.py``, ``__main__.py``."""
    runtime_dir = Path(mlx.runtime.__file__).parent
    files = {"__main__.py": _MAIN, "mlx/__init__.py": b""}
    for source in sorted(runtime_dir.glob("*.py")):
        if source.name != "__main__.py":
            files[f"mlx/runtime/{source.name}"] = source.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return b"#!/usr/bin/env python3\n" + buffer.getvalue()


def bootstrap_path(cache_dir: Path, *, write: bool = True) -> Path:
    """The zipapp in ``cache_dir``, written atomically the first time it is needed."""
    data = bootstrap_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = cache_dir / f"mlx-bootstrap-{digest}.pyz"
    if write and not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path
