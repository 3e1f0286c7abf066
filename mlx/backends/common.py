"""Helpers every cloud backend needs the same way: the machine for ``resources``, and
content digests of local inputs.

A local input or code directory is staged once per content: its SHA-256 over relative
names and bytes names the prefix it is uploaded under, so the next job with the same data
uploads nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlx.catalog.resolver import Resolution
    from mlx.spec import Resources


def resolve_machine(provider: str, resources: Resources) -> Resolution:
    """The catalog's machine for ``resources`` on ``provider``; its ``instance_type``
    override wins."""
    from mlx.catalog.resolver import resolve

    return resolve(
        provider,
        accelerator=resources.accelerator_request,
        cpus=resources.cpus,
        memory_gb=resources.memory_gb,
        override=resources.instance_type.get(provider),
    )


def local_files(source: Path) -> Iterator[tuple[str, Path]]:
    """(relative name, path) of every file of ``source``; a file is its own one entry."""
    if source.is_file():
        yield source.name, source
        return
    for path in sorted(source.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path.relative_to(source).as_posix(), path


def file_digest(path: Path, hasher: Any) -> bytes:
    """``hasher`` fed with ``path``'s bytes, 1 MiB at a time; its digest."""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return hasher.digest()


def tree_digest(source: Path) -> str:
    """SHA-256 (hex) over the relative names and contents of ``source``'s files."""
    digest = hashlib.sha256()
    for name, path in local_files(source):
        digest.update(name.encode() + b"\0" + file_digest(path, hashlib.sha256()) + b"\n")
    return digest.hexdigest()
