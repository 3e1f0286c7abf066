"""What a cloud submit sends: the request, and what it stages in the bucket first.

A provider's render module computes a ``Plan`` without any call (``mlx translate`` prints
its request); ``submit`` stages it (``stage``) and then creates the job from
``Plan.request``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mlx.cloud.layout import Layout, split_any_uri, split_uri

if TYPE_CHECKING:
    from mlx.cloud.objects import ObjectStore

TargetT = TypeVar("TargetT")
LayoutT = TypeVar("LayoutT", bound=Layout)


@dataclass(frozen=True)
class Upload:
    """A local file or directory and the prefix it is staged under.

    ``once``: the prefix is named by the content (``objects.tree_digest``) and the upload
    is skipped when a finished copy is there; otherwise it is sent every time.
    ``code``: the spec's ``code`` folder, sent less its ``.mlxignore`` and the default
    skips (``mlx.codetree``); an input is sent whole.
    """

    source: Path
    uri: str  # <scheme>://bucket/.../ (a prefix: trailing slash)
    once: bool = True
    code: bool = False

    @property
    def key(self) -> str:
        return split_any_uri(self.uri)[2]


@dataclass
class Plan(Generic[TargetT, LayoutT]):
    """Everything ``submit`` needs, computed without a call; typed by where the job is
    created (``TargetT``) and the provider's ``Layout``."""

    request: dict[str, Any]  # what the provider's create call takes
    runtime: dict[str, Any]  # the bootstrap's config, staged as runtime.json
    target: TargetT  # where the job is created (SageMaker: the region; Vertex: a Target)
    layout: LayoutT  # where it stages: the job's prefix in the bucket
    uploads: list[Upload] = field(default_factory=list)
    warnings: tuple[str, ...] = ()
    files: dict[str, bytes] = field(default_factory=dict)  # more of mlx's files, by URI

    def shown(self) -> dict[str, Any]:
        """The request as ``translate`` prints it, with what would be staged beside it."""
        staged = {u.uri: str(u.source) for u in self.uploads}
        staged[self.layout.bootstrap_uri] = "the mlx bootstrap (zipapp)"
        return {**self.request, "staging": {"files": staged, "runtime.json": self.runtime}}


def stage(store: ObjectStore, plan: Plan[Any, Any]) -> None:
    """Put what ``plan``'s job reads into ``store`` (the plan's bucket): the uploads, the
    bootstrap, runtime.json and the plan's other files."""
    from mlx.bootstrap_package import bootstrap_bytes

    send_uploads(store, plan.uploads)
    runtime = json.dumps(plan.runtime, indent=2).encode()
    files = {plan.layout.bootstrap_uri: bootstrap_bytes(), plan.layout.runtime_uri: runtime}
    for uri, data in {**files, **plan.files}.items():
        store.put_bytes(split_uri(uri)[1], data)


def send_uploads(store: ObjectStore, uploads: list[Upload]) -> None:
    """Send the uploads that are not there yet, under one progress display (a content-
    addressed one whose marker is there was sent before). The marker goes last: a cut
    upload is sent again."""
    from mlx import progress
    from mlx.cloud.objects import local_files, marker_key, upload_tree

    todo = [u for u in uploads if not (u.once and store.exists(marker_key(u.key)))]
    files = [path for u in todo for _, path in local_files(u.source, code=u.code)]
    total = sum(path.stat().st_size for path in files)
    with progress.transfer(progress.describe("Uploading", len(files)), total) as advance:
        for upload in todo:
            upload_tree(store, upload.source, upload.key, code=upload.code, progress=advance)
            if upload.once:
                store.put_bytes(marker_key(upload.key), b"")
