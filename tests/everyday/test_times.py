"""Times and durations, one way everywhere (issue #17, item 8): `logs -t` in local time
with the date and the zone, as `status` shows times; durations as people read them;
`--since` in weeks."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write


@pytest.fixture
def kolkata(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A zone 5h30 east of UTC without summer time: local time differs from UTC's."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_logs_t_prints_local_time_with_date_and_zone(mlx: Any, tmp_path: Path, kolkata) -> None:
    write(tmp_path / "hello.py", "print('hello', flush=True)\n")
    spec = write(tmp_path / "job.yaml", "name: times\ncommand: python hello.py\n")
    before = time.time()
    assert mlx("train", spec).exit_code == 0
    job = json.loads(mlx("jobs", "--json").stdout)[0]["id"]
    line = mlx("logs", job, "-t").stdout.splitlines()[-1]
    match = re.fullmatch(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.\d{3} IST hello", line)
    assert match, line
    shown = time.mktime(time.strptime(match.group(1), "%Y-%m-%d %H:%M:%S"))  # local: IST
    assert before - 2 <= shown <= time.time() + 1
    status = mlx("status", job).stdout
    assert re.search(r"created\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d IST\s*\n", status), status
    assert re.search(r"duration\s+\d+\.\ds\s*\n", status), status


def test_since_takes_weeks(mlx: Any, tmp_path: Path) -> None:
    write(tmp_path / "hello.py", "print('hello', flush=True)\n")
    spec = write(tmp_path / "job.yaml", "name: weeks\ncommand: python hello.py\n")
    assert mlx("train", spec).exit_code == 0
    listed = mlx("jobs", "--since", "2w", "--json")
    assert listed.exit_code == 0, listed.stderr
    job = json.loads(listed.stdout)[0]["id"]
    assert mlx("logs", job, "--since", "1w").stdout == "hello\n"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(15.24, "15.2s"), (65, "1m 05s"), (14400, "4h 0m"), (3 * 86400 + 7300, "3d 2h")],
)
def test_durations_read_as_people_write_them(seconds: float, shown: str) -> None:
    from mlx.timefmt import length

    assert length(seconds) == shown
