"""`mlx jobs` at any size (issue 19, item 3): the listing reads only what it shows, prints
plain aligned lines (Rich only for short listings on a terminal), writes the same `--json`
text as before, and loads neither the spec models nor an SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlx.jsontext import dumps, dumps_rows
from mlx.model import JobKind, JobRecord, JobState
from mlx.store import Store
from tests.conftest import REPO, subprocess_env

NOON = time.mktime((2026, 11, 20, 12, 0, 0, 0, 0, -1))  # local time, as the table shows it


def seed(count: int = 3) -> Store:
    """Ended jobs of several providers, one a rehearsal, with tags, metrics and a spec."""
    store = Store(Path(os.environ["MLX_HOME"]) / "jobs.db")
    jobs = [
        ("alpha-aaaaaa", "local", JobState.SUCCEEDED, {}, 75.0),
        ("bravo-bbbbbb", "sagemaker", JobState.FAILED, {}, 3725.0),
        ("charlie-cccccc", "vertex", JobState.CANCELLED, {"rehearsal": "sandbox"}, 9.5),
    ][:count]
    for n, (job_id, provider, state, location, ran) in enumerate(jobs):
        created = NOON + 60 * n
        spec = {"name": job_id[:-7], "tags": {"team": "vision"}, "resources": {"nodes": 2}}
        store.insert(
            JobRecord(
                job_id,
                provider,
                job_id[:-7],
                state,
                spec,
                created,
                created,
                native_id=f"native-{n}",
                location={**location, "region": "x"},
                info={"started_at": created + 5, "other": [1]},
                metrics={"loss": 0.25 * n},
                ended_at=created + 5 + ran,
                message="why" if state == JobState.FAILED else None,
            )
        )
    return store


def test_the_table_is_plain_aligned_lines_newest_first(mlx: Any) -> None:
    seed()
    result = mlx("jobs")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        " id              provider            state      created           duration\n"
        " charlie-cccccc  vertex (rehearsal)  cancelled  2026-11-20 12:02  9.5s\n"
        " bravo-bbbbbb    sagemaker           failed     2026-11-20 12:01  1h 2m\n"
        " alpha-aaaaaa    local               succeeded  2026-11-20 12:00  1m 15s\n"
    )
    assert mlx("jobs", "-n", "1").stdout.splitlines()[1].split()[0] == "charlie-cccccc"


def test_json_is_the_stored_jobs_in_the_documented_shape_and_text(mlx: Any) -> None:
    store = seed()
    listed = mlx("jobs", "--json")
    assert listed.exit_code == 0
    jobs = json.loads(listed.stdout)
    assert listed.stdout == json.dumps(jobs, indent=2) + "\n"  # the text it always had
    assert [j["id"] for j in jobs] == ["charlie-cccccc", "bravo-bbbbbb", "alpha-aaaaaa"]
    bravo = jobs[1]
    assert bravo == {
        "id": "bravo-bbbbbb",
        "name": "bravo",
        "provider": "sagemaker",
        "rehearsal": None,
        "kind": "training",
        "state": "failed",
        "native_id": "native-1",
        "message": "why",
        "exit_code": None,
        "metrics": {"loss": 0.25},
        "artifacts_uri": None,
        "created_at": bravo["created_at"],
        "ended_at": bravo["ended_at"],
        "parent_id": None,
        "tags": {"team": "vision"},
    }
    assert jobs[0]["rehearsal"] == "sandbox"
    # What a listing read is all a summary holds of the spec; the job read whole has it all.
    (summary,) = store.list(summary=True, limit=1)
    whole = store.get("charlie-cccccc")
    assert summary.spec == {"tags": {"team": "vision"}}
    assert whole.spec["resources"] == {"nodes": 2}
    assert (summary.location, summary.metrics) == ({"rehearsal": "sandbox"}, whole.metrics)
    assert summary.info == {"started_at": whole.info["started_at"]}
    assert whole.info["other"] == [1]


def test_a_listing_reads_no_spec_model_and_no_sdk() -> None:
    seed()
    for argv in (["jobs"], ["jobs", "--json"], ["jobs", "-p", "sagemaker", "-s", "failed"]):
        loaded = _modules_after(argv)
        assert {"mlx.spec", "mlx.spec_base", "mlx.lifecycle"} & loaded == set()
        assert {m for m in loaded if m.split(".")[0] in ("boto3", "google", "azure")} == set()


def _modules_after(argv: list[str]) -> set[str]:
    code = (
        "import sys, json\n"
        "before = set(sys.modules)\n"  # a namespace package's .pth may load `google` first
        f"sys.argv = ['mlx', *{argv!r}]\n"
        "from mlx.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('\\n' + json.dumps(sorted(sys.modules.keys() - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
        cwd=REPO,
    )
    return set(json.loads(out.stdout.rstrip().rpartition("\n")[2]))


def test_a_job_not_ended_when_last_seen_is_read_whole_and_refreshed(mlx: Any) -> None:
    store = seed(1)
    store.update("alpha-aaaaaa", state=JobState.RUNNING, ended_at=None)
    job_dir = Path(os.environ["MLX_HOME"]) / "jobs" / "alpha-aaaaaa"
    job_dir.mkdir(parents=True)
    (job_dir / "exit.json").write_text('{"state": "succeeded", "exit_code": 0}')
    assert json.loads(mlx("jobs", "--json").stdout)[0]["state"] == "succeeded"
    whole = store.get("alpha-aaaaaa")  # the refresh wrote to the whole row, spec kept
    assert (whole.state, whole.spec["resources"], whole.info["other"]) == (
        JobState.SUCCEEDED,
        {"nodes": 2},
        [1],
    )


def test_json_text_is_what_the_standard_library_writes() -> None:
    values: list[Any] = [
        [],
        {},
        't\u00e9xt "quoted"\n',
        [{"a": 1, "b": [1, 2.5, {"c": None}], "k": JobKind.TRIAL, "t": True, "f": False}],
        {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "big": 10**30},
        {"nested": {"empty": {}, "list": [[]], "tuple": (1, "2")}, "other": object},
        {1: "not a text key", "x": {2: 3}},
        -0.0,
        1e100,
    ]
    for value in values:
        assert dumps(value) == json.dumps(value, indent=2, default=str)
    rows: list[Any] = [[], [{}], [{"a": 1}, {"a": [1, {}]}], [{"a": 1}, {"b": 2}], [1], [{1: 2}]]
    for value in rows:
        assert dumps_rows(value) == json.dumps(value, indent=2, default=str)
