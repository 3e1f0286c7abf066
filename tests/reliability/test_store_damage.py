"""A damaged job store (issue 16, item 3): every command says in one line which store is
wrong and what to do, never with a traceback, and never overwrites the damaged file;
``mlx doctor`` checks it and ``--repair`` keeps it aside; a read-only ``$MLX_HOME`` is
still listed."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from mlx.model import JobRecord, JobState
from mlx.store import Store
from tests.conftest import REPO, subprocess_env, write

IDS = ("alpha-aaaaaa", "bravo-bbbbbb", "charlie-cccccc")
HINT = (
    "Hint: `mlx doctor` checks it; `mlx doctor --repair` moves it aside (kept, never "
    "overwritten) and starts a new store with every job it can still read."
)


def home() -> Path:
    return Path(os.environ["MLX_HOME"])


def seed(root: Path, count: int = 3, state: JobState = JobState.SUCCEEDED) -> Path:
    """A store of local jobs that ended, each with its folder and one log line."""
    store = Store(root / "jobs.db")
    for n, job_id in enumerate(IDS[:count]):
        now = time.time() - 100 + n
        store.insert(JobRecord(job_id, "local", job_id[:-7], state, {"name": "x"}, now, now))
        write(
            root / "jobs" / job_id / "logs" / "node-0.log", f"2026-01-01T00:00:0{n}.000000Z\thi\n"
        )
    store.close()
    return root / "jobs.db"


def spec(tmp_path: Path) -> Path:
    write(tmp_path / "train.py", "print('hi')\n")
    return write(tmp_path / "job.yaml", "name: probe\ncommand: python train.py\n")


def truncate_half(db: Path) -> None:
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)


def not_a_database(db: Path) -> None:
    db.write_bytes(b"this is not an SQLite file, just text that took its place\n" * 4)


def a_folder(db: Path) -> None:
    db.unlink()
    db.mkdir()


def zero_bytes(db: Path) -> None:
    db.write_bytes(b"")


FILE_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (truncate_half, "is damaged (database disk image is malformed)"),
    "not a database": (not_a_database, "is damaged (file is not a database)"),
    "a folder": (a_folder, "is a folder, not a database file"),
    "0 bytes": (zero_bytes, "is empty (0 bytes) while 3 job folder(s) remain in {jobs}"),
}
COMMANDS = (
    ["jobs"],
    ["jobs", "--json"],
    ["status", IDS[0]],
    ["logs", IDS[0]],
    ["pull-artifacts", IDS[0], "--list"],
    ["cancel", IDS[0]],
)


def snapshot(db: Path) -> Any:
    return sorted(os.listdir(db)) if db.is_dir() else db.read_bytes()


@pytest.mark.parametrize("kind", FILE_DAMAGE)
def test_a_damaged_store_file_is_one_line_for_every_command_and_never_overwritten(
    mlx: Any, tmp_path: Path, kind: str
) -> None:
    db = seed(home())
    damage, problem = FILE_DAMAGE[kind]
    damage(db)
    before = snapshot(db)
    expected = f"Error: job store {db} " + problem.format(jobs=home() / "jobs")
    for command in [*COMMANDS, ["train", str(spec(tmp_path)), "--detach"]]:
        result = mlx(*command)
        assert result.exit_code == 1, (command, result.stderr)
        assert result.stderr.splitlines() == [expected, HINT], command
        assert snapshot(db) == before
    assert sorted(p.name for p in (home() / "jobs").iterdir()) == sorted(IDS)  # nothing started


def test_mlx_home_that_is_a_file_is_one_line(
    mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "home-file", "not a folder\n")
    monkeypatch.setenv("MLX_HOME", str(path))
    for command in [*COMMANDS, ["train", str(spec(tmp_path)), "--detach"]]:
        result = mlx(*command)
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            f"Error: the mlx home {path} is a file, not a folder, so there is no job store",
            "Hint: Set MLX_HOME to a folder (or move that file away).",
        ]
    assert path.read_text() == "not a folder\n"


def set_column(db: Path, sql: str, *params: Any) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql, params)
    conn.close()


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("UPDATE jobs SET state = 'weird' WHERE id = ?", "state 'weird' is not one mlx knows"),
        ("UPDATE jobs SET info = '{bad' WHERE id = ?", "info is not valid JSON"),
        ("UPDATE jobs SET spec = '[1, 2]' WHERE id = ?", "spec is not a JSON object"),
        ("UPDATE jobs SET created_at = 'soon' WHERE id = ?", "created_at 'soon' is not a time"),
        (
            """UPDATE jobs SET metrics = '{"loss": "low"}' WHERE id = ?""",
            "metrics holds a value that is not a number",
        ),
    ],
)
def test_a_damaged_row_is_skipped_in_listings_and_named_when_asked_for(
    mlx: Any, sql: str, reason: str
) -> None:
    db = seed(home())
    set_column(db, sql, IDS[1])
    before = db.read_bytes()
    listed = mlx("jobs", "--json")
    assert listed.exit_code == 0
    assert [job["id"] for job in json.loads(listed.stdout)] == [IDS[2], IDS[0]]
    assert listed.stderr.splitlines() == [
        f"Warning: job store {db}: skipped 1 damaged row(s) ({IDS[1]}); `mlx doctor` "
        "checks the store"
    ]
    for command in (["status"], ["logs"], ["cancel"], ["pull-artifacts", "--list"]):
        result = mlx(*command, IDS[1])
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            f"Error: job store {db} has a damaged row for job {IDS[1]}: {reason}",
            HINT,
        ]
    assert mlx("status", IDS[0]).exit_code == 0
    assert db.read_bytes() == before


def test_an_extra_column_is_ignored(mlx: Any, tmp_path: Path) -> None:
    db = seed(home())
    set_column(db, "ALTER TABLE jobs ADD COLUMN added_later TEXT")
    assert [j["id"] for j in json.loads(mlx("jobs", "--json").stdout)] == [*reversed(IDS)]
    assert mlx("status", IDS[0]).exit_code == 0
    assert mlx("logs", IDS[0]).stdout == "hi\n"
    result = mlx("train", spec(tmp_path))
    assert result.exit_code == 0, result.stderr
    # A constraint mlx does not know (a newer mlx's): new jobs are refused in one line.
    set_column(db, "CREATE TRIGGER t BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'no'); END")
    result = mlx("train", spec(tmp_path), "--detach")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(f"Error: job store {db} ")


def test_metrics_that_are_not_utf8_are_skipped(mlx: Any) -> None:
    seed(home(), count=1, state=JobState.RUNNING)
    job_dir = home() / "jobs" / IDS[0]
    (job_dir / "exit.json").write_text('{"state": "succeeded", "exit_code": 0}')
    good = json.dumps({"name": "loss", "value": 0.5, "step": 1, "time": 1.0})
    (job_dir / "metrics.jsonl").write_bytes(b"\xff\xfe{\x80bad\n" + good.encode() + b"\n\xc3(\n")
    result = mlx("status", IDS[0], "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["metrics"] == {"loss": 0.5}


# -- mlx doctor ------------------------------------------------------------------------


def test_doctor_names_the_damage_and_repair_keeps_the_file_aside(mlx: Any) -> None:
    db = seed(home())
    set_column(db, "UPDATE jobs SET state = 'weird' WHERE id = ?", IDS[1])
    result = mlx("doctor", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)["store"]
    assert (report["ok"], report["jobs"]) == (False, 2)
    assert report["damaged_rows"] == [f"{IDS[1]}: state 'weird' is not one mlx knows"]
    assert result.stderr.splitlines() == [
        f"Error: job store {db} has 1 damaged row(s)",
        "Hint: `mlx doctor --repair` moves it aside (kept, never overwritten) and starts a "
        "new store.",
    ]
    before = db.read_bytes()
    repaired = mlx("doctor", "--repair", "--json")
    assert repaired.exit_code == 0, repaired.stderr
    fixed = json.loads(repaired.stdout)
    aside = Path(fixed["kept_aside"])
    assert aside.parent == home() and aside.name.startswith("jobs.db.damaged-")
    assert aside.read_bytes() == before  # kept as it was
    assert (fixed["copied"], fixed["lost"]) == (
        2,
        [f"{IDS[1]}: state 'weird' is not one mlx knows"],
    )
    assert [j["id"] for j in json.loads(mlx("jobs", "--json").stdout)] == [IDS[2], IDS[0]]
    assert mlx("doctor").exit_code == 0
    again = mlx("doctor", "--repair")
    assert again.stdout.startswith(f"Job store {db} is sound: nothing to repair.")


def test_repair_reads_what_is_left_of_a_truncated_store(mlx: Any) -> None:
    db = home() / "jobs.db"
    store = Store(db)
    now = time.time()
    for n in range(400):  # enough rows for the table to span many pages
        store.insert(JobRecord(f"job-{n:06d}", "local", "job", JobState.SUCCEEDED, {}, now, now))
    store.close()
    truncate_half(db)
    damaged = db.read_bytes()
    assert mlx("jobs").exit_code == 1
    fixed = json.loads(mlx("doctor", "--repair", "--json").stdout)
    assert 0 < fixed["copied"] < 400
    jobs = json.loads(mlx("jobs", "--json", "--limit", "1000").stdout)
    assert len(jobs) == fixed["copied"]
    assert Path(fixed["kept_aside"]).read_bytes() == damaged


def test_doctor_reports_a_0_byte_store_beside_job_folders(mlx: Any) -> None:
    db = seed(home())
    zero_bytes(db)
    result = mlx("doctor")
    assert result.exit_code == 1
    assert f"Job store: {db} damaged" in result.stdout
    fixed = mlx("doctor", "--repair")
    assert fixed.exit_code == 0
    assert "3 local job folder(s) remain under" in fixed.stdout
    assert [p.name for p in home().iterdir() if p.name.startswith("jobs.db.damaged-")]


# -- a read-only $MLX_HOME ---------------------------------------------------------------


def read_only_mount_works() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


def run_read_only(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mlx args`` with ``root`` mounted read-only (a bind mount in a mount namespace of
    its own, so even root may not write there: EROFS)."""
    script = (
        f'mount --bind "{root}" "{root}" && mount -o remount,bind,ro "{root}" && '
        f'exec "{sys.executable}" -m mlx "$@"'
    )
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *args],
        env=subprocess_env(MLX_HOME=str(root)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not read_only_mount_works(), reason="needs unshare -m (root)")
def test_a_read_only_home_still_lists_and_shows_jobs(tmp_path: Path) -> None:
    root = tmp_path / "ro-home"
    db = seed(root, count=2)
    Store(db).update(IDS[0], state=JobState.RUNNING)  # its refresh cannot be saved
    Store(db).close()
    before = db.read_bytes()
    listed = run_read_only(root, "jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [j["id"] for j in json.loads(listed.stdout)] == [IDS[1], IDS[0]]
    assert listed.stderr.splitlines() == [
        f"Warning: job store {db} is read-only: jobs are shown as last recorded"
    ]
    shown = run_read_only(root, "status", IDS[1], "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["state"] == "succeeded"
    logs = run_read_only(root, "logs", IDS[1])
    assert (logs.returncode, logs.stdout) == (0, "hi\n")
    refused = run_read_only(root, "train", str(spec(tmp_path)), "--detach")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"Error: job store {db} is read-only: mlx can show jobs but not record any",
        f"Hint: Make {root} writable, or set MLX_HOME to a writable folder.",
    ]
    assert db.read_bytes() == before
