"""The copy rules of ``mlx.tensorboard.sync`` on a store with checksums (a folder store,
MD5 as S3's ETag of a one-part object): appends fetch their tail; whatever is not an append
is fetched whole; names that would leave the run's folder are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from mlx.cloud.objects import ObjectInfo
from mlx.model import JobKind, JobRecord, JobState
from mlx.runner.folders import FolderStore
from mlx.tensorboard.places import Run, trial_run_name
from mlx.tensorboard.sync import Cache
from tests.tensorboard.events import more_events

NAME = "events.out.tfevents.1.h.1.0"


def record(**info: object) -> JobRecord:
    return JobRecord("job-1", "local", "job", JobState.RUNNING, {}, 0.0, 0.0, info=dict(info))


def setup(tmp_path: Path) -> tuple[FolderStore, Cache, Run]:
    store = FolderStore(tmp_path / "bucket", "s3", "b")
    return store, Cache(tmp_path / "cache"), Run("job-1", record(), [(store, "tb/")])


def test_an_append_fetches_the_tail_and_a_rewrite_the_whole(tmp_path: Path) -> None:
    store, cache, run = setup(tmp_path)
    first = more_events(0, 3)
    store.put_bytes(f"tb/{NAME}", first)
    assert cache.sync(run).bytes == len(first)

    grown = first + more_events(3, 2)
    store.put_bytes(f"tb/{NAME}", grown)
    got = cache.sync(run)
    assert (got.bytes, got.whole) == (len(grown) - len(first), [])

    same_size = bytes([grown[0] ^ 1]) + grown[1:]  # changed in place: same size
    store.put_bytes(f"tb/{NAME}", same_size)
    got = cache.sync(run)
    assert (got.bytes, got.whole) == (len(same_size), [NAME])

    other = more_events(10, 9)  # longer, but its first bytes differ: not an append
    store.put_bytes(f"tb/{NAME}", other)
    got = cache.sync(run)
    assert got.whole == [NAME]
    assert got.bytes == len(other) - len(same_size) + len(other)  # the tail, then all
    assert (cache.root / "job-1" / NAME).read_bytes() == other
    assert cache.sync(run).bytes == 0


def test_a_new_cache_keeps_what_an_earlier_one_fetched(tmp_path: Path) -> None:
    store, cache, run = setup(tmp_path)
    first, more = more_events(0, 2), more_events(2, 1)
    store.put_bytes(f"tb/train/{NAME}", first)
    cache.sync(run)
    cache.save()
    store.put_bytes(f"tb/train/{NAME}", first + more)
    assert Cache(cache.root).sync(run).bytes == len(more)


class HostileListing(FolderStore):
    """A bucket whose listing names objects with `..` (S3 keys may hold any characters)."""

    def list(self, prefix: str, *, label: Optional[str] = None) -> Iterator[ObjectInfo]:
        yield ObjectInfo(prefix + "../../escaped", 1, None)
        yield ObjectInfo(prefix + "ok/./" + NAME, 1, None)
        yield from super().list(prefix)


def test_names_that_would_leave_the_run_are_skipped(tmp_path: Path) -> None:
    store = HostileListing(tmp_path / "bucket", "s3", "b")
    store.put_bytes(f"tb/{NAME}", b"x")
    cache = Cache(tmp_path / "cache" / "inner")
    got = cache.sync(Run("job-1", record(), [(store, "tb/")]))
    assert (got.files, got.bytes) == (1, 1)  # only the plain name
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()) == [NAME]


def test_a_trial_run_is_named_by_its_number_and_values() -> None:
    trial = record(trial=3, params={"lr": 0.01, "layers": 2, "opt": "a/b"})
    assert trial_run_name("tune-1", trial) == "tune-1/trial-3_layers=2_lr=0.01_opt=a-b"
    assert JobKind.TRIAL  # trials are recorded with this kind (lifecycle.sync_trials)
