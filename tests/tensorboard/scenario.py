"""``mlx tensorboard --sync-only`` on a job that ran in an emulated cloud, through the
platform runner, writing TensorBoard scalars into ``$MLX_OUTPUT_DIR/tensorboard``.

A provider's tests subclass ``CloudTensorBoard`` and fill in the hooks. The emulated
clouds upload the job's files when it ends; the writer's later growth is then made the way
a cloud object grows (it is written again, longer: TensorFlow's GCS writer, SageMaker's
TensorBoard upload, a FUSE mount on close), and the next round must read only the new
bytes — counted from the Range headers the storage server received.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.backends.contract import started
from tests.conftest import write
from tests.tensorboard.events import SCRIPT, more_events, scalar_runs


def ranged_bytes(headers: list[dict[str, str]]) -> int:
    """Bytes the ``Range``/``x-ms-range`` headers of ``headers`` asked for (each must have
    one: an unranged read of an event file would fetch it whole)."""
    total = 0
    for sent in headers:
        lowered = {k.lower(): v for k, v in sent.items()}
        value = lowered.get("range") or lowered.get("x-ms-range")
        assert value, f"a read without a Range header: {sent}"
        first, last = re.fullmatch(r"bytes=(\d+)-(\d+)", value).groups()  # type: ignore[union-attr]
        total += int(last) - int(first) + 1
    return total


class CloudTensorBoard:
    # -- hooks -------------------------------------------------------------------------

    def spec_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def event_keys(self, job: str) -> list[str]:
        """The keys of the job's event files in its bucket or container."""
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        raise NotImplementedError

    def put(self, key: str, body: bytes) -> None:
        raise NotImplementedError

    def reads(self, key: str) -> list[dict[str, str]]:
        """The headers of every GET of ``key`` the storage server received, in order."""
        raise NotImplementedError

    # -- the scenario ------------------------------------------------------------------

    @pytest.fixture
    def spec(self, tmp_path: Path) -> Path:
        write(tmp_path / "project" / "code" / "job.py", SCRIPT)
        doc = {
            "name": "tb",
            "command": "python job.py",
            "code": "./code",
            "hyperparameters": {"lr": 0.5},
            **self.spec_fields(),
        }
        return write(tmp_path / "project" / "job.yaml", yaml.safe_dump(doc, sort_keys=False))

    def test_event_files_come_whole_then_only_their_new_bytes(
        self, mlx: Any, spec: Path, tmp_path: Path
    ) -> None:
        ran = mlx("train", spec, "--detach")
        assert ran.exit_code == 0, ran.stderr
        job = started(ran.stderr)
        cache = tmp_path / "tb"

        first = self.sync(mlx, job, cache, "--every", "0.1")  # rounds until the job ended
        (key,) = self.event_keys(job)
        reads = self.reads(key)
        size = len(self.get(key))
        assert (first["bytes"], first["state"]) == (size, "succeeded")
        assert ranged_bytes(reads) == size  # each byte read once, in ranges

        grown = more_events(6, 3)  # the writer appended 3 steps; the object was rewritten
        self.put(key, self.get(key) + grown)
        before = len(self.reads(key))
        second = self.sync(mlx, job, cache)
        assert (second["bytes"], second["refetched"]) == (len(grown), [])
        assert ranged_bytes(self.reads(key)[before:]) == len(grown)  # what the server sent
        (copy,) = (cache / job).glob("events.out.tfevents.*")
        assert copy.read_bytes() == self.get(key)

        if _has_tensorboard():
            assert scalar_runs(cache) == {job: list(range(9))}

    def test_a_rewritten_file_is_fetched_whole(self, mlx: Any, spec: Path, tmp_path: Path) -> None:
        ran = mlx("train", spec, "--set", "hyperparameters.lr=0.25", "--detach")
        assert ran.exit_code == 0, ran.stderr
        job = started(ran.stderr)
        cache = tmp_path / "tb"
        self.sync(mlx, job, cache, "--every", "0.1")
        (key,) = self.event_keys(job)
        body = self.get(key)
        shorter = body[: len(body) // 2]
        self.put(key, shorter)  # not an append: shorter
        again = self.sync(mlx, job, cache)
        assert again["refetched"] != [] and again["bytes"] == len(shorter)
        (copy,) = (cache / job).glob("events.out.tfevents.*")
        assert copy.read_bytes() == shorter

    def sync(self, mlx: Any, job: str, cache: Path, *rounds: str) -> dict[str, Any]:
        """One round (``--once``), or ``rounds``' options."""
        result = mlx("tensorboard", job, "--sync-only", cache, "--json", *(rounds or ["--once"]))
        assert result.exit_code == 0, result.stderr
        (run,) = json.loads(result.stdout)["runs"]
        assert run["run"] == job
        return run


def _has_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None
