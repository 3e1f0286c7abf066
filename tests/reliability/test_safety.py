"""Safety across backends: hostile archives, listings, ids and environments are refused or
neutralised; secrets are never written or printed; a killed mlx loses no job; the store
holds up under many processes at once (issue 8, items 4-7)."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.backends.azure.conftest import Azure, azure_spec
from tests.backends.contract import started
from tests.backends.sagemaker.conftest import BUCKET, put_object, sagemaker_spec
from tests.backends.sagemaker.test_artifacts import external_job
from tests.backends.vertex.conftest import Gcp, vertex_spec
from tests.conftest import subprocess_env, write
from tests.emulators.aws import AwsServer

SECRET = "hunter2-Zq8Xv31-very-secret"  # what $MLX_TEST_SECRET holds
NASTY = 'a\'; touch pwned; echo "$(touch pwned2)" `touch pwned3` $HOME\nline2 \\ %s ${{x}}'


# -- archives mlx did not write --------------------------------------------------------


def external_archive(sm: AwsServer, name: str, members: list[tarfile.TarInfo]) -> None:
    """A finished SageMaker job mlx did not launch, its model.tar.gz holding ``members``
    (regular files get their name as content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info in members:
            data = info.name.encode() if info.isfile() else b""
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    put_object(sm, external_job(sm, name), buffer.getvalue())


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def new_files_outside(root: Path, before: set[Path], dest: Path) -> set[Path]:
    """Files and dirs created under ``root`` since ``before``, outside ``dest`` and mlx's home."""
    new = set(root.rglob("*")) - before
    return {p for p in new if p != dest and dest not in p.parents and "mlx-home" not in p.parts}


@pytest.mark.parametrize(
    ("hostile", "reason"),
    [
        (member("model/h", tarfile.LNKTYPE, "../outside"), "a link to '../outside'"),
        (member("model/h", tarfile.LNKTYPE, "/etc/passwd"), "a link to '/etc/passwd'"),
        (member("h", tarfile.LNKTYPE, "../../evil"), "a link to '../../evil'"),  # to a refused one
        (member("model/s", tarfile.SYMTYPE, "../../x"), "a link to '../../x'"),
    ],
)
def test_links_out_of_dest_are_refused(
    mlx: Any, sm: AwsServer, tmp_path: Path, hostile: tarfile.TarInfo, reason: str
) -> None:
    external_archive(sm, "ext-links", [member("model/ok.txt"), hostile, member("../../evil")])
    dest = tmp_path / "work" / "dest"
    before = set(tmp_path.rglob("*"))
    result = mlx("pull-artifacts", "sagemaker:ext-links", "--dest", dest)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: refusing archive member {hostile.name!r}: {reason}")
    # Nothing at all: members before the refused one are not left behind (#16).
    assert new_files_outside(tmp_path, before, dest) == set()
    assert not dest.exists()
    assert not os.path.lexists(dest / hostile.name)


def test_links_devices_and_fifos_are_skipped_with_a_warning_never_created(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    # A chain: `up` -> `model` (inside), then a file written "through" it; and a dest that
    # already holds a symlink out of it, which a member must not be written through.
    members = [
        member("model/ok.txt"),
        member("model/same", tarfile.LNKTYPE, "model/ok.txt"),
        member("up", tarfile.SYMTYPE, "model"),
        member("up/through.txt"),
        member("dev/null", tarfile.CHRTYPE),
        member("dev/sda", tarfile.BLKTYPE),
        member("pipe", tarfile.FIFOTYPE),
    ]
    external_archive(sm, "ext-special", members)
    dest = tmp_path / "dest"
    result = mlx("pull-artifacts", "sagemaker:ext-special", "--dest", dest, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["downloaded"] == ["model/ok.txt", "up/through.txt"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    kinds = ["a hard link", "a symbolic link", "a character device", "a block device", "a FIFO"]
    names = ["model/same", "up", "dev/null", "dev/sda", "pipe"]
    assert warnings == [
        f"Warning: skipped archive member {n!r}: {k}; only regular files are written"
        for n, k in zip(names, kinds)
    ]
    assert (dest / "up").is_dir() and not (dest / "up").is_symlink()
    assert sorted(p.name for p in (dest / "model").iterdir()) == ["ok.txt"]
    assert not (dest / "dev").exists() and not (dest / "pipe").exists()

    outside = tmp_path / "outside"
    outside.mkdir()
    (dest / "escape").symlink_to(outside)
    external_archive(sm, "ext-through", [member("escape/x.txt")])
    result = mlx("pull-artifacts", "sagemaker:ext-through", "--dest", dest)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: refusing artifact path 'escape/x.txt'")
    assert list(outside.iterdir()) == []


def test_a_listing_with_unsafe_keys_writes_nothing_outside_dest(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = started(mlx("train", sagemaker_spec(tmp_path), "--detach").stderr)
    put_object(sm, f"mlx/{job}/{job}/output/model/ok.bin", b"ok")
    put_object(sm, f"mlx/{job}/{job}/output/model/../../../../../evil", b"x")
    listing = json.loads(mlx("pull-artifacts", job, "--list", "--json").stdout)
    unsafe = [a["path"] for a in listing if ".." in a["path"]]
    assert unsafe, listing  # the server keeps the key as written
    dest = tmp_path / "work" / "dest"
    before = set(tmp_path.rglob("*"))
    result = mlx("pull-artifacts", job, "--dest", dest)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: refusing artifact path {unsafe[0]!r}")
    assert new_files_outside(tmp_path, before, dest) == set()
    assert not dest.exists()  # every path is checked before the first byte is written


# -- job ids and refs ------------------------------------------------------------------

HOSTILE_REFS = [
    "' OR 1=1 --",
    "x'; DROP TABLE jobs; --",
    "../../x",
    "/etc/passwd",
    "a/b",
    "job\x00id",
    "a" * 5000,
    "jöb-ü",
    "ｊｏｂ",
    "%",
    "local:' OR 1=1 --",
    "local:../../x",
    "local:/etc/passwd",
    "local:a\x00b",
    "nope:../x",
]


def store_rows(home: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "jobs.db") as db:
        return db.execute("SELECT * FROM jobs ORDER BY id").fetchall()


def seed_store(home: Path) -> None:
    from mlx.model import JobRecord, JobState
    from mlx.store import Store

    now = time.time()
    record = JobRecord("seed-abc123", "local", "seed", JobState.SUCCEEDED, {}, now, now)
    Store(home / "jobs.db").insert(record)


def assert_refused_cleanly(
    mlx: Any, refs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["MLX_HOME"])
    seed_store(home)
    rows = store_rows(home)
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    for ref in refs:
        for command in (["status"], ["logs"], ["cancel"], ["pull-artifacts", "--dest", "d"]):
            result = mlx(*command, ref)
            assert result.exit_code == 1, (ref, command, result.stderr)
            lines = result.stderr.splitlines()
            assert lines[0].startswith("Error: ") and len(lines) <= 2, (ref, result.stderr)
            assert all(line.startswith(("Error: ", "Hint: ")) for line in lines)
    assert store_rows(home) == rows
    assert {p for p in set(tmp_path.rglob("*")) - before if home not in p.parents} == set()


def test_hostile_job_refs_are_one_line_errors_and_change_nothing(
    mlx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_refused_cleanly(mlx, HOSTILE_REFS, tmp_path, monkeypatch)


def test_hostile_native_ids_are_refused_by_the_provider_lookup(
    mlx: Any, sm: AwsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = ["sagemaker:' OR 1=1 --", "sagemaker:../../x", "sagemaker:/etc/passwd", "sagemaker:a/b"]
    assert_refused_cleanly(mlx, refs, tmp_path, monkeypatch)


# -- Azure: spec values never reach the shell ------------------------------------------

ECHO_ENV = """\
import json, os
print(json.dumps({"env": os.environ["NASTY"], "secret": os.environ["TOKEN"]}))
"""


def test_azure_env_and_secret_values_reach_the_script_byte_for_byte(tmp_path: Path) -> None:
    from mlx.backends.azure import staging
    from mlx.backends.azure.backend import AzureBackend
    from mlx.backends.azure.render import command_job
    from mlx.spec import load_spec
    from tests.backends.azure.test_render import places, run_as_azure

    spec_path = azure_spec(tmp_path, env={"NASTY": NASTY}, secrets={"TOKEN": "env:MLX_TEST_SECRET"})
    write(tmp_path / "project" / "code" / "train.py", ECHO_ENV)
    spec = load_spec(spec_path)
    secret = NASTY.replace("line2", "secret")  # what submit resolved from $MLX_TEST_SECRET
    with staging.snapshot(spec, tmp_path / "cache") as code:
        doc = AzureBackend()._document(spec, "az-env", command_job, {"TOKEN": secret}, code=code)
        assert NASTY not in doc["command"] and secret not in doc["command"]
        seen = run_as_azure(doc["command"], code, doc["environment_variables"], places(tmp_path))
        assert not list(code.glob("pwned*"))
    assert seen == {"env": NASTY, "secret": secret}
    assert not list(tmp_path.rglob("pwned*"))


# -- secrets ---------------------------------------------------------------------------


def sagemaker_secret_spec(tmp_path: Path) -> Path:
    return sagemaker_spec(tmp_path, secrets={"API_TOKEN": "env:MLX_TEST_SECRET"})


def vertex_secret_spec(tmp_path: Path) -> Path:
    return vertex_spec(tmp_path, secrets={"API_TOKEN": "env:MLX_TEST_SECRET"})


def azure_secret_spec(tmp_path: Path) -> Path:
    return azure_spec(tmp_path, secrets={"API_TOKEN": "env:MLX_TEST_SECRET"})


def assert_nowhere(home: Path, *texts: str) -> None:
    """The secret is in none of ``texts`` and no file under mlx's home."""
    for text in texts:
        assert SECRET not in text
    for path in home.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def check_secret_kept(mlx: Any, spec: Path, fail: Any) -> None:
    """translate, train and a failing train never show the secret, even when the provider's
    error echoes it back (``fail`` makes the test server answer the create call so)."""
    home = Path(os.environ["MLX_HOME"])
    translated = mlx("translate", spec, "--json")
    assert translated.exit_code == 0, translated.stderr
    trained = mlx("train", spec, "--detach")
    assert trained.exit_code == 0, trained.stderr
    assert_nowhere(home, translated.stdout, translated.stderr, trained.stdout, trained.stderr)

    fail(f"invalid value {SECRET}")
    failed = mlx("train", spec, "--detach")
    assert failed.exit_code == 1
    # The instance line comes first (before the create); then the error, masked.
    error = next(line for line in failed.stderr.splitlines() if line.startswith("Error: "))
    assert "********" in error, failed.stderr
    jobs = mlx("jobs", "--json")
    assert_nowhere(home, failed.stdout, failed.stderr, jobs.stdout)
    assert "invalid value ********" in json.loads(jobs.stdout)[0]["message"]


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLX_TEST_SECRET", SECRET)


@pytest.mark.usefixtures("secret_env")
def test_sagemaker_never_shows_or_stores_a_secret(mlx: Any, sm: AwsServer, tmp_path: Path) -> None:
    def fail(message: str) -> None:
        sm.plan.add(
            "CreateTrainingJob", "error", status=400, code="ValidationException", message=message
        )

    check_secret_kept(mlx, sagemaker_secret_spec(tmp_path), fail)


@pytest.mark.usefixtures("secret_env")
def test_vertex_never_shows_or_stores_a_secret(mlx: Any, gcp: Gcp, tmp_path: Path) -> None:
    def fail(message: str) -> None:
        gcp.vertex.plan.add("CreateCustomJob", "error", status=400, message=message)

    check_secret_kept(mlx, vertex_secret_spec(tmp_path), fail)


@pytest.mark.usefixtures("secret_env")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_azure_never_shows_or_stores_a_secret(mlx: Any, azure: Azure, tmp_path: Path) -> None:
    def fail(message: str) -> None:
        azure.server.plan.add(
            "PUT jobs", "error", status=400, times=10, code="BadRequest", message=message
        )

    check_secret_kept(mlx, azure_secret_spec(tmp_path), fail)


# -- kill -9 of mlx during train -------------------------------------------------------


def train_killed_at(spec: Path, point: str) -> None:
    """Run ``mlx train SPEC --detach`` in a subprocess and SIGKILL it at ``point``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlx", "train", str(spec), "--detach"],
        env=subprocess_env(MLX_TEST_PAUSE_AT=point),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    try:
        while (line := proc.stderr.readline()) and not line.startswith("mlx: paused at"):
            seen.append(line)
        assert line.startswith(f"mlx: paused at {point}"), "".join(seen)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()  # reaped: its pid no longer exists
        proc.stderr.close()


def only_job(mlx: Any) -> dict[str, Any]:
    listed = mlx("jobs", "--json")
    assert listed.exit_code == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_killed_before_the_create_the_job_ends_failed_not_pending(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    train_killed_at(sagemaker_spec(tmp_path), "before-create")
    job = only_job(mlx)
    assert (job["state"], job["native_id"]) == ("failed", None)
    assert job["message"] == "mlx was stopped before the job was submitted"
    status = json.loads(mlx("status", job["id"], "--json").stdout)
    assert status["state"] == "failed"
    assert sm.requests("CreateTrainingJob") == []


def test_killed_after_the_create_the_job_is_found_and_recorded(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    train_killed_at(sagemaker_spec(tmp_path), "after-create")
    job = only_job(mlx)
    assert (job["state"], job["native_id"]) == ("pending", job["id"])
    assert job["artifacts_uri"] == f"s3://{BUCKET}/mlx/{job['id']}/"
    sm.set_training_job(job["id"], status="Completed")
    status = json.loads(mlx("status", job["id"], "--json").stdout)
    assert status["state"] == "succeeded"
    assert len(sm.requests("CreateTrainingJob")) == 1
    assert mlx("pull-artifacts", job["id"], "--list").exit_code == 0  # its location is known


def forget_submission(job_id: str) -> None:
    """Make the store look as if mlx died right after the provider accepted ``job_id``."""
    from mlx.store import Store

    store = Store.default()
    record = store.get(job_id)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], stdout=-1)
    info = {**record.info, "submitter": {**record.info["submitter"], "pid": int(dead.stdout)}}
    store.update(job_id, native_id=None, location={}, artifacts_uri=None, info=info)


def test_vertex_finds_a_job_whose_id_was_never_recorded_by_label(
    mlx: Any, gcp: Gcp, tmp_path: Path
) -> None:
    job = started(mlx("train", vertex_spec(tmp_path), "--detach").stderr)
    native = json.loads(mlx("status", job, "--json").stdout)["native_id"]
    forget_submission(job)
    status = json.loads(mlx("status", job, "--json").stdout)
    assert (status["native_id"], status["state"]) == (native, "pending")
    assert len(gcp.vertex.requests("CreateCustomJob")) == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_azure_finds_a_job_whose_id_was_never_recorded_by_name(
    mlx: Any, azure: Azure, tmp_path: Path
) -> None:
    job = started(mlx("train", azure_spec(tmp_path), "--detach").stderr)
    forget_submission(job)
    status = json.loads(mlx("status", job, "--json").stdout)
    assert status["native_id"] == job
    assert mlx("pull-artifacts", job, "--list").exit_code == 0


def test_a_provider_that_cannot_be_asked_leaves_the_job_listed_as_last_seen(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    job = started(mlx("train", sagemaker_spec(tmp_path), "--detach").stderr)
    forget_submission(job)
    sm.plan.add("DescribeTrainingJob", "error", status=500, times=10)
    listed = mlx("jobs", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [(j["id"], j["state"]) for j in json.loads(listed.stdout)] == [(job, "pending")]
    assert listed.stderr.startswith(f"Warning: {job} is shown as last seen: ")
    sm.plan.clear()
    assert json.loads(mlx("status", job, "--json").stdout)["native_id"] == job


# -- the store under load --------------------------------------------------------------

SOAK_SECONDS = float(os.environ.get("MLX_STORE_SOAK_SECONDS", "20"))  # the issue's: 60
SOAK_PROCESSES = 20


def cli_reader(seconds: float) -> list[str]:
    """``mlx jobs`` run again and again for ``seconds``; the stderr of each run that failed."""
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = subprocess.run(
            [sys.executable, "-m", "mlx", "jobs", "--json"],
            env=subprocess_env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or "locked" in done.stderr:
            failures.append(done.stderr)
    return failures


def test_twenty_processes_at_once_lose_nothing_and_never_see_locked() -> None:
    import multiprocessing

    from tests.reliability.soak import soak_worker

    home = os.environ["MLX_HOME"]
    context = multiprocessing.get_context("spawn")
    writers = SOAK_PROCESSES - 1  # and the 20th: this process running the CLI
    start, queue = context.Barrier(writers + 1), context.Queue()
    processes = [
        context.Process(target=soak_worker, args=(home, n, SOAK_SECONDS, start, queue))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    start.wait(timeout=120)
    reader_failures = cli_reader(SOAK_SECONDS)
    results = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    errors = [e for _, worker_errors in results for e in worker_errors]
    assert errors == [] and reader_failures == []
    written = {job_id for ids, _ in results for job_id in ids}
    assert set(r[0] for r in store_rows(Path(home))) == written
    with sqlite3.connect(Path(home) / "jobs.db") as db:
        bad = db.execute(
            "SELECT id FROM jobs WHERE state != 'succeeded' OR native_id != id "
            "OR ended_at IS NULL OR metrics = '{}'"
        ).fetchall()
    assert bad == []
    assert all(ids for ids, _ in results)  # every process worked while the others did
