"""The inside of a sandbox: ``python -m mlx.runner.enter CONFIG`` under ``unshare``.

Runs as the namespace's root (the caller's own user outside it). It builds the
container's view of the file system in ``root`` — the host's tree bound in read-only, the
job's folders bound where the platform puts them (``/opt/ml``, ``/gcs/<bucket>``...), a
fresh ``/tmp`` — then ``chroot``s into it and ``exec``s the container's command, so what
the job sees is its platform's layout and nothing it writes lands outside its own folders.

A path the platform needs that the host does not have (``/opt/ml``) cannot be created in
a host folder the caller does not own; its parents are *mirrored* instead: made as our own
folders in ``root`` with each host entry bound in one by one, and the path created there.
Standard library only (ctypes for ``mount(2)``).
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import sys
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
_FRESH = ("/tmp",)  # a container has its own /tmp; never the host's
# Bound writable: devices (/dev/null, /dev/shm) and /proc/self. Everything else of the
# host is read-only inside: the job runs as root there, and when the caller is root too,
# that root may write any host file (the namespace maps it to the caller's own uid).
_WRITABLE = ("/dev", "/proc")


def _libc_mount(source: str, target: str, read_only: bool = False) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    calls = [(source.encode(), MS_BIND | MS_REC)]
    if read_only:  # a bind mount is made read-only by remounting it
        calls.append((b"none", MS_BIND | MS_REMOUNT | MS_RDONLY))
    for src, flags in calls:
        if libc.mount(src, target.encode(), None, flags, None) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"cannot bind {source} at {target}: {os.strerror(errno)}")


def mirrored_dirs(targets: Iterable[str]) -> set[str]:
    """The host folders to rebuild entry by entry so that every target can be created.

    For a target missing on the host, its nearest host ancestor (and that one's
    ancestors) must be our own folders; a target inside another target is created in
    that target's folder, which is ours already.
    """
    targets = set(targets)
    dirs = {"/"}
    for target in targets:
        current = PurePosixPath("/")
        for part in PurePosixPath(target).parts[1:]:
            step = current / part
            if str(step) in targets and str(step) != target:
                break
            if not os.path.lexists(step):
                dirs.update(str(p) for p in (current, *current.parents))
                break
            current = step
    return dirs


def build_root(root: str, mounts: dict[str, str], read_only: dict[str, str]) -> None:
    """Make ``root`` the container's ``/``: the host mirrored or bound, then ``mounts``,
    then ``read_only`` (host paths a fresh folder would hide: a Python made under /tmp)."""
    mirrored = mirrored_dirs(mounts)

    def mirror(host: str, mine: str) -> None:
        for name in sorted(os.listdir(host)):
            source = os.path.join(host, name)
            target = os.path.join(mine, name)
            if os.path.abspath(source) == os.path.abspath(root):
                continue
            if source in mirrored:
                os.makedirs(target, exist_ok=True)
                mirror(source, target)
            elif source in _FRESH:
                os.makedirs(target, mode=0o1777, exist_ok=True)
                os.chmod(target, 0o1777)
            elif os.path.islink(source):
                os.symlink(os.readlink(source), target)
            elif os.path.isdir(source):
                os.makedirs(target, exist_ok=True)
                _libc_mount(source, target, read_only=source not in _WRITABLE)
            elif os.path.isfile(source):
                open(target, "a").close()
                _libc_mount(source, target, read_only=True)

    mirror("/", root)
    for target in sorted(mounts, key=lambda p: len(PurePosixPath(p).parts)):
        source = mounts[target]
        place = root + target
        if not os.path.lexists(place):
            if os.path.isdir(source):
                os.makedirs(place)
            else:
                os.makedirs(os.path.dirname(place), exist_ok=True)
                open(place, "a").close()
        _libc_mount(source, place)
    for target, source in sorted(read_only.items()):
        os.makedirs(root + target, exist_ok=True)
        _libc_mount(source, root + target, read_only=True)


def enter(config: dict[str, Any]) -> None:
    build_root(config["root"], config["mounts"], config.get("read_only") or {})
    if config.get("hostname"):
        socket.sethostname(config["hostname"])
    os.chroot(config["root"])
    os.chdir(config.get("workdir") or "/")
    argv = config["argv"]
    try:
        os.execvpe(argv[0], argv, config["env"])
    except OSError as e:
        # What a container runtime says when the entrypoint cannot start (exit 127, as
        # Docker's `exec: "train": executable file not found in $PATH`).
        print(f"exec {argv[0]}: {e.strerror}", file=sys.stderr, flush=True)
        os._exit(127)


def main(argv: list[str]) -> None:
    path = argv[0]
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    os.unlink(path)  # it may hold secret values: gone before the job starts
    try:
        enter(config)
    except OSError as e:
        print(f"mlx sandbox: {e}", file=sys.stderr, flush=True)
        os._exit(126)


if __name__ == "__main__":
    main(sys.argv[1:])
