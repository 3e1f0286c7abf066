"""After submit, an Azure job's status, logs and artifacts need no azure-ai-ml (issue 19,
item 4): a fresh mlx process reaches run history and the blobs with what submit recorded,
and never imports ``azure.ai.ml``; a job recorded without those endpoints still works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlx.store import Store
from tests.backends.azure.conftest import Azure, azure_spec
from tests.conftest import REPO, subprocess_env
from tests.emulators.azureml import DEV_KEY

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_RUN = """
import sys
sys.argv = ["mlx", *sys.argv[1:]]
from mlx.cli import main
try:
    main()
    code = 0
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 0
print("azure.ai.ml loaded:", "azure.ai.ml" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def fresh_mlx(*args: Any) -> tuple[int, str, str]:
    """``mlx`` in a new process: exit code, stdout, stderr (its last line says whether
    azure.ai.ml was imported)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *map(str, args)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=REPO,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def submitted_and_finished(mlx: Any, tmp_path: Path, azure: Azure) -> str:
    """A job submitted, run (two log lines, one artifact) and completed on the server."""
    result = mlx("train", azure_spec(tmp_path), "--detach", "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)["id"]
    azure.server.set_status(job, "Running")
    azure.log(job, ["epoch 1 loss=0.5", "epoch 2 loss=0.25"], process=None)
    azure.put_artifact(job, "model/weights.bin", b"w" * 1000)
    azure.server.set_status(job, "Completed")
    return job


def test_a_fresh_process_shows_status_logs_and_artifacts_without_azure_ai_ml(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    job = submitted_and_finished(mlx, tmp_path, azure)
    before = {op: len(azure.server.requests(op)) for op in ("GET jobs", "GET runs/details")}

    code, out, err = fresh_mlx("status", job, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert (status["state"], status["id"]) == ("succeeded", job)
    assert status["ended_at"] is not None
    assert err.splitlines()[-1] == "azure.ai.ml loaded: False"
    # Run history answered it, not the jobs API azure-ai-ml would call.
    assert len(azure.server.requests("GET runs/details")) > before["GET runs/details"]
    assert len(azure.server.requests("GET jobs")) == before["GET jobs"]

    code, out, err = fresh_mlx("logs", job)
    assert (code, out) == (0, "epoch 1 loss=0.5\nepoch 2 loss=0.25\n"), err
    assert err.splitlines()[-1] == "azure.ai.ml loaded: False"

    dest = tmp_path / "pulled"
    code, out, err = fresh_mlx("pull-artifacts", job, "--dest", dest, "--json")
    assert code == 0, err
    assert (dest / "model" / "weights.bin").read_bytes() == b"w" * 1000
    assert err.splitlines()[-1] == "azure.ai.ml loaded: False"
    # The datastore key was asked for, never stored with the job.
    assert azure.server.requests("POST datastores/listSecrets")
    stored = Store.default().get(job)
    assert stored.info["endpoints"]["stores"]["workspaceblobstore"]["account"]
    assert DEV_KEY not in json.dumps(stored.info)


def test_a_failed_job_shows_its_reason_from_run_history(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    result = mlx("train", azure_spec(tmp_path), "--detach", "--json")
    job = json.loads(result.stdout)["id"]
    azure.server.set_status(job, "Running")
    azure.server.set_status(job, "Failed", error="CUDA out of memory on node 0")
    code, out, err = fresh_mlx("status", job, "--json")
    assert code == 0, err
    status = json.loads(out)
    assert (status["state"], status["message"]) == ("failed", "CUDA out of memory on node 0")
    assert err.splitlines()[-1] == "azure.ai.ml loaded: False"


def test_a_job_recorded_before_goes_through_azure_ai_ml(
    mlx: Any, tmp_path: Path, azure: Azure
) -> None:
    job = submitted_and_finished(mlx, tmp_path, azure)
    store = Store.default()
    info = dict(store.get(job).info)
    info.pop("endpoints")  # as mlx recorded jobs before
    store.update(job, info=info)
    status = json.loads(mlx("status", job, "--json").stdout)
    assert status["state"] == "succeeded"
    assert azure.server.requests("GET jobs")  # azure-ai-ml's jobs.get
    assert mlx("logs", job).stdout == "epoch 1 loss=0.5\nepoch 2 loss=0.25\n"
