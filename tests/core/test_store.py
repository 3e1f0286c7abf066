"""The job registry: lookups, consistency, and many writers at once."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from mlx.errors import JobNotFound
from mlx.model import JobRecord, JobState
from mlx.store import Store


def record(job_id: str, **fields: object) -> JobRecord:
    now = time.time()
    values = {
        "id": job_id,
        "provider": "local",
        "name": job_id.rsplit("-", 1)[0],
        "state": JobState.PENDING,
        "spec": {"name": "x"},
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    return JobRecord(**values)  # type: ignore[arg-type]


def test_find_by_id_prefix_and_native_id(tmp_path: Path) -> None:
    store = Store(tmp_path / "jobs.db")
    store.insert(record("train-aaaaaa", native_id="n-1", provider="sagemaker"))
    store.insert(record("train-aaabbb"))
    store.insert(record("other-cccccc"))
    assert store.find("train-aaaaaa").id == "train-aaaaaa"
    assert store.find("other").id == "other-cccccc"
    assert store.find("TRAIN-AAAB").id == "train-aaabbb"
    assert store.find("sagemaker:n-1").id == "train-aaaaaa"
    with pytest.raises(JobNotFound, match="matches more than one job"):
        store.find("train-aaa")
    with pytest.raises(JobNotFound, match="no job matches"):
        store.find("zzz")
    # A prefix never becomes a LIKE pattern: % and _ are not wildcards.
    with pytest.raises(JobNotFound):
        store.find("train%")


def test_update_unless_ended_keeps_the_first_terminal_state(tmp_path: Path) -> None:
    store = Store(tmp_path / "jobs.db")
    store.insert(record("job-111111"))
    assert store.update("job-111111", state=JobState.SUCCEEDED, unless_ended=True)
    assert not store.update("job-111111", state=JobState.CANCELLED, unless_ended=True)
    got = store.get("job-111111")
    assert got.state == JobState.SUCCEEDED and got.ended_at is not None


def test_list_filters_in_sql(tmp_path: Path) -> None:
    store = Store(tmp_path / "jobs.db")
    store.insert(record("a-000001", created_at=1.0, updated_at=1.0))
    store.insert(
        record(
            "b-000002", created_at=2.0, updated_at=2.0, provider="vertex", state=JobState.RUNNING
        )
    )
    store.insert(
        record("c-000003", created_at=3.0, updated_at=3.0, kind="trial", parent_id="b-000002")
    )
    assert [r.id for r in store.list()] == ["b-000002", "a-000001"]
    assert [r.id for r in store.list(provider="vertex")] == ["b-000002"]
    assert [r.id for r in store.list(states=[JobState.PENDING])] == ["a-000001"]
    assert [r.id for r in store.list(since=1.5)] == ["b-000002"]
    assert [r.id for r in store.list(parent_id="b-000002")] == ["c-000003"]


def _writer(path: str, worker: int, count: int) -> None:
    store = Store(Path(path))
    for i in range(count):
        job_id = f"w{worker}-{i:06d}"
        store.insert(record(job_id))
        store.update(job_id, state=JobState.RUNNING)
        store.update(job_id, state=JobState.SUCCEEDED, metrics={"i": i})


def test_many_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "jobs.db")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(path, w, 40)) for w in range(8)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    jobs = Store(Path(path)).list(limit=10_000)
    assert len(jobs) == 320
    assert {j.state for j in jobs} == {JobState.SUCCEEDED}
