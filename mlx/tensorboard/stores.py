"""Stores ``mlx tensorboard`` reads that the cloud adapters do not cover: a local job's
folder, and the datastore URIs ``--prefix`` takes on Azure ML. Backends import this module,
so it imports no command layer."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from mlx.cloud.objects import ObjectInfo
from mlx.runner.folders import FolderStore

# azureml://datastores/<datastore>/paths/<path>: Azure ML's datastore URI
# (https://learn.microsoft.com/azure/machine-learning/how-to-access-data-interactive,
# "azureml://datastores/<data_store_name>/paths/<folder>").
_DATASTORE_URI = re.compile(r"^azureml://datastores/([^/]+)/paths/(.*)$")


class LocalFolder(FolderStore):
    """A local job's ``artifacts`` folder read as an object store: keys are paths under it.
    Listing gives no checksum (a file being written would not match it), and follows no
    link the job may have made."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, "", "")
        self.folder = folder

    def uri(self, key: str) -> str:
        return str(self.folder / key)

    def list(self, prefix: str, *, label: Optional[str] = None) -> Iterator[ObjectInfo]:
        top = self.folder / prefix
        if not top.is_dir() or top.is_symlink():
            return
        for folder, _, files in os.walk(top):  # does not descend into linked folders
            for name in sorted(files):
                path = Path(folder) / name
                info = path.lstat()
                if path.is_symlink() or name.endswith(".part"):
                    continue
                key = path.relative_to(self.folder).as_posix()
                yield ObjectInfo(key, info.st_size, None, info.st_mtime)

    def local_checksum(self, path: Path, checksum: str) -> Optional[str]:
        return None


def datastore_path(uri: str) -> Optional[tuple[str, str]]:
    """``azureml://datastores/<ds>/paths/<p>`` -> ``(ds, p)``; None for other URIs."""
    found = _DATASTORE_URI.match(uri)
    return (found.group(1), found.group(2)) if found else None
