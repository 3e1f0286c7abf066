"""Incremental copies of TensorBoard event files: each round fetches only the new bytes.

TensorBoard's writer creates each event file once (``events.out.tfevents.<time>.<host>.
<pid>...``, opened ``"wb"``) and then only appends records to it
(tensorboard/summary/writer/event_file_writer.py, record_writer.py: each record is its
length, the masked CRC-32C of the length, the data, the masked CRC-32C of the data). So a
file that grew is its cached bytes plus a tail: one ranged read from the cached size
fetches it. A record cut in two by a read is harmless: TensorBoard's reader stops at a
truncated record and reads it again from its start once the file has grown
(tensorboard/backend/event_processing/event_file_loader.py, "We swallow partial read
exceptions"; compat/tensorflow_stub/pywrap_tensorflow.py keeps the partial record).

What is not an append is fetched whole: a file that got shorter, one whose size is the same
but whose checksum changed, and one whose bytes after an append do not match the checksum
the listing gave (where the store's checksum can be computed here: an S3 ETag, a GCS
CRC-32C, a Blob Content-MD5).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mlx.cloud.objects import ObjectInfo, ObjectStore
from mlx.console import warn
from mlx.tensorboard.places import Run

STATE_NAME = ".mlx-tensorboard.json"  # not an event file: TensorBoard ignores it


@dataclass
class Fetched:
    """What one round brought for one run."""

    files: int = 0  # files that gained bytes
    bytes: int = 0  # bytes read from the store
    whole: list[str] = field(default_factory=list)  # files fetched whole again (not appends)

    def add(self, other: Fetched) -> None:
        self.files += other.files
        self.bytes += other.bytes
        self.whole += other.whole


class Cache:
    """The local copies under ``root``: ``<root>/<run>/<file>``, and what each was listed
    with last (size and checksum), in ``<root>/.mlx-tensorboard.json``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.state: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((self.root / STATE_NAME).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self) -> None:
        tmp = self.root / (STATE_NAME + ".part")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        os.replace(tmp, self.root / STATE_NAME)

    def sync(self, run: Run) -> Fetched:
        """One round for ``run``: list its places, fetch what is new."""
        fetched = Fetched()
        known = self.state.setdefault(run.name, {})
        for store, prefix in run.places:
            for info in store.list(prefix):
                relative = _relative(info.key, prefix)
                if relative is None:
                    continue
                target = self.root / run.name / relative
                fetched.add(_sync_file(store, info, target, known, relative))
        return fetched


def _relative(key: str, prefix: str) -> Optional[str]:
    """``key`` under ``prefix`` as a safe relative path; None for folder markers and for
    names that would leave the run's folder."""
    relative = key[len(prefix) :]
    parts = relative.split("/")  # "a//b", "./a", "a/../b": no plain relative path
    if any(p in ("", ".", "..") for p in parts) or relative.endswith(".part"):
        return None
    return relative


def _sync_file(
    store: ObjectStore, info: ObjectInfo, target: Path, known: dict[str, Any], name: str
) -> Fetched:
    held = target.stat().st_size if target.is_file() else 0
    seen = known.get(name) or {}
    rewritten = info.checksum is not None and seen.get("checksum") not in (None, info.checksum)
    if info.size == held and not (rewritten and seen.get("size") == info.size):
        known[name] = {"size": info.size, "checksum": info.checksum}
        return Fetched()
    if info.size > held:
        got = _append(store, info, target, held)
        if _matches(store, info, target):
            known[name] = {"size": info.size, "checksum": info.checksum}
            return Fetched(1, got)
        warn(f"{store.uri(info.key)} changed, not by an append: fetching it whole")
    else:
        got = 0
    got += _whole(store, info, target)
    known[name] = {"size": info.size, "checksum": info.checksum}
    return Fetched(1, got, [name])


def _append(store: ObjectStore, info: ObjectInfo, target: Path, held: int) -> int:
    """The object's bytes from ``held`` to its listed size, appended to ``target``."""
    data = store.read_range(info.key, held, info.size - held)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "ab") as f:
        f.write(data)
    return len(data)


def _whole(store: ObjectStore, info: ObjectInfo, target: Path) -> int:
    """The object fetched again from its first byte (one ranged read), then put in place."""
    data = store.read_range(info.key, 0, info.size) if info.size else b""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return len(data)


def _matches(store: ObjectStore, info: ObjectInfo, target: Path) -> bool:
    """Whether ``target`` holds the bytes the listing's checksum names; True when the
    store's checksum cannot be computed here (a multipart ETag of another part size...)."""
    if info.checksum is None:
        return True
    computed = store.local_checksum(target, info.checksum)
    return computed is None or computed == info.checksum
