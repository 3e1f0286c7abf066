"""Objects fetched in parallel ranged parts, written in place; one bounded pool per process.

A single GET streams at what one TCP connection carries; a large object is fetched as
``part_size()`` ranges (8 MiB: boto3's ``TransferConfig`` default ``multipart_chunksize``)
on up to ``concurrency()`` connections at once. Each part writes its bytes at their offset
(``os.pwrite``) into the file preallocated to the object's size: no part is held in memory
beyond one ``BUFFER`` per part in flight. The caller hands in a temporary file and renames
it into place once every part has arrived and the whole file's checksum matches
(``mlx.transfer``): a part that fails stops the others, and nothing reaches the
destination.

Every GET that carries file data holds one of ``concurrency()`` slots: a part, on one pool
of that many daemon threads for the whole process; a small file's one GET, in its caller's
thread (``run``). A pull of many files holds at most that many connections, whatever mix
of sizes it has, and a Ctrl-C abandons the pool at once (its threads never keep the
process alive). Callers wait for the pool from their own threads; a task on the pool never
waits for another. The first part's answer tells
the object's version (an ETag), which the other parts then require (``If-Match``), so
parts of two versions are never joined; a ``digest`` is fed the file in order as its parts
arrive, so its checksum is ready with its last part.
"""

from __future__ import annotations

import errno
import os
import queue
import re
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from mlx.errors import BackendError, MlxError
from mlx.model import Progress

DEFAULT_PART_SIZE = 8 << 20
# boto3's TransferConfig: "max_concurrency -- The maximum number of threads that will be
# making requests to perform a transfer ... default 10" (boto3/s3/transfer.py).
DEFAULT_CONCURRENCY = 10
BUFFER = 1 << 20  # bytes gathered before each positional write
_SIZE = re.compile(r"^\s*(\d+)\s*(|B|KiB|K|MiB|M|GiB|G)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}
_UNITS.update(g=1 << 30, gib=1 << 30)
MIN_PART, MAX_PART = 16 << 10, 1 << 30

T = TypeVar("T")
Opened = Callable[[Optional[str]], None]
Write = Callable[[bytes], None]
# (offset, length, version required or None, opened(version seen), write(bytes)): one part.
ReadPart = Callable[[int, int, Optional[str], Opened, Write], None]


def concurrency() -> int:
    """``MLX_TRANSFER_CONCURRENCY``: GETs at once, 1–64; default 10."""
    text = os.environ.get("MLX_TRANSFER_CONCURRENCY", "").strip()
    if not text:
        return DEFAULT_CONCURRENCY
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise MlxError(
            f"MLX_TRANSFER_CONCURRENCY={text!r} is not a number from 1 to 64",
            hint="Set it to the connections a transfer may use at once (default 10), or unset it.",
        )
    return int(text)


def part_size() -> int:
    """``MLX_TRANSFER_PART_SIZE``: bytes per ranged part (``8MiB``, ``65536``); default 8 MiB."""
    text = os.environ.get("MLX_TRANSFER_PART_SIZE", "").strip()
    if not text:
        return DEFAULT_PART_SIZE
    found = _SIZE.match(text)
    size = int(found.group(1)) * _UNITS[found.group(2).lower()] if found else 0
    if not MIN_PART <= size <= MAX_PART:
        raise MlxError(
            f"MLX_TRANSFER_PART_SIZE={text!r} is not a size from 16KiB to 1GiB",
            hint="Give bytes or a size such as 8MiB (the default), or unset it.",
        )
    return size


# -- the pool --------------------------------------------------------------------------


class Pool:
    """``size`` daemon threads running submitted calls in order of submission."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._tasks: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = (
            queue.SimpleQueue()
        )
        for n in range(size):
            name = f"mlx-transfer-{n}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def submit(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._tasks.put((call, future))  # type: ignore[arg-type]
        return future

    def _work(self) -> None:
        while True:
            call, future = self._tasks.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with _slot(self.size):
                    future.set_result(call())
            except BaseException as e:  # handed to the waiting caller
                future.set_exception(e)


_pools: dict[int, Pool] = {}
_pools_lock = threading.Lock()


def pool() -> Pool:
    """The process's pool, of ``concurrency()`` threads."""
    size = concurrency()
    with _pools_lock:
        if size not in _pools:
            _pools[size] = Pool(size)
        return _pools[size]


_slots: dict[int, threading.BoundedSemaphore] = {}


def _slot(size: int) -> threading.BoundedSemaphore:
    with _pools_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


def run(call: Callable[[], T]) -> T:
    """``call()`` (a small file's one GET) in the caller's thread, holding one of the
    ``concurrency()`` connections the pool's parts hold too: no hand-over to another
    thread, and never more GETs at once than the bound, whatever mix of sizes a pull has."""
    with _slot(concurrency()):
        return call()


# -- one object in parts ---------------------------------------------------------------


def spans(size: int, step: int) -> list[tuple[int, int]]:
    """``(offset, length)`` of each part of an object of ``size`` bytes."""
    return [(offset, min(step, size - offset)) for offset in range(0, size, step)]


def preallocate(path: Path, size: int) -> None:
    """Give ``path`` its final size now: a full disk is said before any byte is fetched."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, size)
        if size and hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as e:
                if e.errno not in _UNSUPPORTED:  # ENOSPC and the like are real
                    raise
    finally:
        os.close(fd)


_UNSUPPORTED = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS}  # no fallocate on this file system


class _Cancelled(Exception):
    """Raised in a part's writes once another part of the same object failed."""


class _Object:
    """One object's parts in flight: positional writes, the version, cancellation."""

    def __init__(
        self,
        read_part: ReadPart,
        target: Path,
        progress: Progress,
        in_order: Optional[_InOrder] = None,
        per_part: Optional[Callable[[], Any]] = None,
    ) -> None:
        self.read_part, self.target, self.progress = read_part, target, progress
        self.in_order, self.per_part = in_order, per_part
        self.digests: dict[int, bytes] = {}  # offset -> digest of that part (``per_part``)
        self.cancelled = threading.Event()
        self.opened = threading.Event()
        self.version: Optional[str] = None

    def open(self, version: Optional[str]) -> None:
        if not self.opened.is_set():  # the first part's answer: later ones keep it
            self.version = version
            self.opened.set()

    def part(self, offset: int, length: int, version: Optional[str]) -> None:
        if self.cancelled.is_set():
            return
        hasher = self.per_part() if self.per_part is not None else None
        writer = _Writer(self.target, offset, self, hasher)
        try:
            self.read_part(offset, length, version, self.open, writer.write)
            writer.flush()
        finally:
            writer.close()
        if writer.position != offset + length:
            raise BackendError(
                f"a part of {self.target.name} ended after {writer.position - offset} of "
                f"{length} bytes; nothing was written",
                hint="Run pull-artifacts again.",
            )
        if hasher is not None:
            self.digests[offset] = hasher.digest()
        if self.in_order is not None:
            self.in_order.arrived(offset, length)


class _InOrder:
    """Feeds the file's bytes, read back, to a digest in order, as soon as the parts before
    them have arrived: the checksum is ready when the last part is, rather than one more
    pass over the file after it. One thread feeds at a time; the others go on fetching."""

    def __init__(self, path: Path, digest: Any) -> None:
        self.path, self.digest = path, digest
        self.lock = threading.Lock()
        self.waiting: dict[int, int] = {}  # offset -> length of parts arrived, not yet fed
        self.fed = 0
        self.feeding = False

    def arrived(self, offset: int, length: int) -> None:
        with self.lock:
            self.waiting[offset] = length
            if self.feeding:
                return  # the feeding thread takes it when it gets there
            self.feeding = True
        while True:
            with self.lock:
                length = self.waiting.pop(self.fed, 0)
                if not length:
                    self.feeding = False
                    return
                start = self.fed
            self._feed(start, length)
            with self.lock:
                self.fed = start + length

    def _feed(self, offset: int, length: int) -> None:
        with open(self.path, "rb") as f:
            f.seek(offset)
            while length > 0:
                data = f.read(min(BUFFER, length))
                if not data:
                    raise BackendError(f"{self.path.name} ended early while checking it")
                self.digest.update(data)
                length -= len(data)


class _Writer:
    """Bytes of one part, written at their place in the file in ``BUFFER`` batches."""

    def __init__(self, target: Path, offset: int, owner: _Object, hasher: Any = None) -> None:
        self.fd = os.open(target, os.O_WRONLY)
        self.position, self.owner, self.hasher = offset, owner, hasher
        self.pending: list[bytes] = []
        self.held = 0

    def write(self, data: bytes) -> None:
        if self.owner.cancelled.is_set():
            raise _Cancelled()
        self.pending.append(bytes(data))
        self.held += len(data)
        if self.held >= BUFFER:
            self.flush()

    def flush(self) -> None:
        if not self.held:
            return
        data = b"".join(self.pending)
        self.pending, self.held = [], 0
        written = 0
        while written < len(data):  # pwrite may write less than asked
            written += os.pwrite(self.fd, data[written:], self.position + written)
        self.position += len(data)
        if self.hasher is not None:  # hashlib lets go of the GIL: parts hash side by side
            self.hasher.update(data)
        self.owner.progress(len(data))

    def close(self) -> None:
        os.close(self.fd)


def download(
    read_part: ReadPart,
    size: int,
    target: Path,
    progress: Progress,
    version: Optional[str] = None,
    digest: Any = None,
    step: Optional[int] = None,
    per_part: Optional[Callable[[], Any]] = None,
    part_digests: Optional[list[bytes]] = None,
) -> Optional[str]:
    """Fetch an object of ``size`` bytes into ``target`` in parallel parts; its version.

    Args:
        digest: a ``hashlib`` object (anything with ``update``), fed the whole file in order
            while the parts arrive; complete when this returns.
        step: the part size (default ``part_size()``).
        per_part: makes a ``hashlib`` object for each part, fed its bytes as they arrive
            (in the part's own thread); ``part_digests`` gets their digests, in order.

    The first part goes first: once its answer's headers came (``opened``), the rest start,
    requiring ``version`` (the listed one) or else the version the first part saw. The
    first failure cancels the other parts, waits for those in flight to stop (none writes
    after this returns) and is raised.
    """
    preallocate(target, size)
    in_order = _InOrder(target, digest) if digest is not None else None
    obj = _Object(read_part, target, progress, in_order, per_part)
    parts = spans(size, step or part_size())
    workers = pool()
    first = workers.submit(partial(obj.part, *parts[0], version))
    first.add_done_callback(lambda _: obj.open(None))  # a reader that never said, or failed
    obj.opened.wait()
    if first.done() and first.exception() is not None:
        first.result()  # raises: no other part was asked for
    pinned = version or obj.version
    rest = [
        workers.submit(partial(obj.part, offset, length, pinned)) for offset, length in parts[1:]
    ]
    found = _wait(obj, [first, *rest])
    if part_digests is not None:
        part_digests.extend(obj.digests[offset] for offset, _ in parts)
    return found


def _wait(obj: _Object, futures: list[Future[None]]) -> Optional[str]:
    """All parts done: the version; else the first real error, once every part stopped."""
    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
    failed = [f for f in futures if f in done and f.exception() is not None]
    if not failed:
        return obj.version
    obj.cancelled.set()
    for future in futures:
        future.cancel()  # those not started never start
    wait(futures)
    errors = [e for f in futures if not f.cancelled() and (e := f.exception()) is not None]
    raise next((e for e in errors if not isinstance(e, _Cancelled)), errors[0])
