"""The ``/gcs/`` mount of a Vertex job, on this machine.

Vertex mounts Cloud Storage in every replica with Cloud Storage FUSE: each bucket is the
folder ``/gcs/<bucket>/``, read and written with plain file calls
(https://cloud.google.com/vertex-ai/docs/training/cloud-storage-file-system), and a file
written there becomes an object when it is closed
(https://github.com/GoogleCloudPlatform/gcsfuse/blob/master/docs/semantics.md, Writes).

Here each bucket is one host folder, bound at ``/gcs/<bucket>`` in every container of the
job (replicas and trials share it, as they share the bucket):

- a bucket kept in a local folder (``mlx.runner.folders.FolderStore``, ``--rehearse``) is
  bound as it is: reads and writes are the objects themselves, as through FUSE;
- any other bucket is mirrored: before the job starts, the objects the job reads are
  copied in — every ``/gcs/`` path its request names (the bootstrap, ``runtime.json``,
  the inputs: command, args and env) and everything under its ``baseOutputDirectory``
  (mlx's staged code, earlier checkpoints) — and after each run the files it wrote or
  changed are uploaded (``sync``); files it deleted are left in the bucket.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlx.cloud.objects import ObjectStore
    from mlx.runner.host import Stores

MOUNT = "/gcs/"
# A path under the mount in any text: /gcs/<bucket>/<key>, the key up to a separator.
_MOUNTED = re.compile(r"/gcs/([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])/([^\s\"',;]*)")


def mounted_paths(texts: Iterable[str]) -> list[tuple[str, str]]:
    """(bucket, key) of every ``/gcs/<bucket>/<key>`` path in ``texts``."""
    return [(m.group(1), m.group(2)) for text in texts for m in _MOUNTED.finditer(text)]


class GcsMount:
    """One job's ``/gcs/``: a host folder per bucket, filled from and synced to ``stores``."""

    def __init__(self, stores: Stores, workspace: Path) -> None:
        self.stores = stores
        self.workspace = workspace
        self.folders: dict[str, Path] = {}  # bucket -> the folder bound at /gcs/<bucket>
        self._mirrored: dict[str, ObjectStore] = {}  # the buckets that are copies
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}  # (bucket, key) -> stat
        self._lock = threading.Lock()

    def prepare(self, paths: Iterable[tuple[str, str]]) -> dict[str, Path]:
        """Make the folders for ``paths`` ((bucket, key or prefix) the job reads) and copy
        those objects in; the mounts: ``/gcs/<bucket>`` -> its folder."""
        from mlx.runner.folders import FolderStore

        for bucket, key in paths:
            if bucket not in self.folders:
                store, _ = self.stores(f"gs://{bucket}/")
                if isinstance(store, FolderStore):
                    store.folder.mkdir(parents=True, exist_ok=True)
                    self.folders[bucket] = store.folder
                else:
                    self.folders[bucket] = self.workspace / "gcs" / bucket
                    self.folders[bucket].mkdir(parents=True, exist_ok=True)
                    self._mirrored[bucket] = store
            if bucket in self._mirrored:
                self._copy_in(bucket, key)
        return {MOUNT + bucket: folder for bucket, folder in self.folders.items()}

    def _copy_in(self, bucket: str, key: str) -> None:
        """The object ``key``, or every object under the prefix ``key``."""
        store, folder = self._mirrored[bucket], self.folders[bucket]
        prefix = key.rstrip("/")
        for info in store.list(prefix):
            inside = info.key == prefix or info.key.startswith(prefix + "/") or not prefix
            if not inside or info.key.endswith("/") or (bucket, info.key) in self._seen:
                continue
            target = folder / info.key
            target.parent.mkdir(parents=True, exist_ok=True)
            store.download(info.key, target, lambda n: None)
            self._seen[bucket, info.key] = _stat(target)

    def sync(self) -> None:
        """Upload what the job wrote or changed in the mirrored buckets since the last
        sync (FUSE would have uploaded each file when it was closed)."""
        with self._lock:
            for bucket, store in self._mirrored.items():
                folder = self.folders[bucket]
                for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                    key = path.relative_to(folder).as_posix()
                    stat = _stat(path)
                    if self._seen.get((bucket, key)) != stat:
                        store.put_file(key, path)
                        self._seen[bucket, key] = stat

    def close(self) -> None:
        """Remove the mirrors (after the last ``sync``)."""
        for bucket in self._mirrored:
            shutil.rmtree(self.folders[bucket], ignore_errors=True)


def _stat(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns
