"""What a job takes from this machine, as ``mlx translate`` lists it: each folder or file
uploaded (a cloud) or copied into the job's own folder (local), with its file count, size
and largest files, so a stray dataset or virtual environment shows before it is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlx.spec import JobSpec


def listing(spec: JobSpec) -> dict[str, list[dict[str, Any]]]:
    """``{"uploads": [...]}`` for a cloud, ``{"copies": [...]}`` for a provider that runs
    jobs here; each entry ``{"what", "source", "files", "bytes", "largest"}``."""
    from mlx.codetree import source_listing
    from mlx.providers import Capability, get
    from mlx.settings import mlx_home

    here = get(spec.provider).can(Capability.RUNS_HERE)
    entries = []
    code = spec.code_dir() or (spec.base_dir if here else None)
    if code is not None and code.is_dir():
        found = source_listing(code, code=True, exclude=(mlx_home().resolve(),))
        entries.append({"what": "code", "source": str(code), **found.shown()})
    for name in spec.inputs if not here else ():
        local = spec.local_input_path(name)
        if local is not None and local.exists():
            found = source_listing(local, code=False)
            entries.append({"what": f"inputs.{name}", "source": str(local), **found.shown()})
    return {("copies" if here else "uploads"): entries}


def lines(shown: dict[str, Any]) -> list[str]:
    """The listing for a person (stderr)."""
    from mlx.codetree import Listing, describe

    out = []
    for key, title in (("uploads", "Uploads"), ("copies", "Copied into each job's folder")):
        for entry in shown.get(key) or ():
            found = Listing(
                entry["files"],
                entry["bytes"],
                tuple((x["path"], x["bytes"]) for x in entry["largest"]),
            )
            out.append(f"{title}: {entry['what']} from {Path(entry['source'])}: {describe(found)}")
    return out
