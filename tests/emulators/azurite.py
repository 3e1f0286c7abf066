"""Azurite (Microsoft's Azure Storage emulator, from npm) for the Azure Blob tests.

``ensure_installed()`` installs ``azurite@3`` into a cache dir shared by every test process
(a file lock keeps concurrent sessions from racing), and ``AzuriteServer`` runs
``azurite-blob`` on a free port of 127.0.0.1 with telemetry off, in memory, in its own
process group so ``stop()`` leaves no orphans. Clients use the well-known dev account.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional
from urllib.parse import quote

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

# The emulator's fixed development account (documented by Microsoft; not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
PACKAGE = "azurite@3"
_READY_MARKER = ".mlx-installed"  # written last, so a half-finished install is redone


class AzuriteUnavailable(RuntimeError):
    """Azurite cannot be installed or started here (no npm, no registry, ...)."""


def cache_dir() -> Path:
    """Where Azurite is installed: ``$MLX_TEST_CACHE/azurite`` or ``~/.cache/mlx-tests/azurite``."""
    root = os.environ.get("MLX_TEST_CACHE") or Path.home() / ".cache" / "mlx-tests"
    return Path(root) / "azurite"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive lock across processes (two pytest sessions installing at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no flock; installs there are not concurrent-safe
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _blob_main(root: Path) -> Path:
    """The ``azurite-blob`` entry script, found through the package's ``bin`` table."""
    package = root / "node_modules" / "azurite"
    bins = json.loads((package / "package.json").read_text())["bin"]
    return package / bins["azurite-blob"]


def ensure_installed(root: Optional[Path] = None, timeout: float = 180) -> Path:
    """Install Azurite into ``root`` unless it is there; return the azurite-blob script."""
    root = root or cache_dir()
    with _file_lock(root.with_name(root.name + ".lock")):
        if (root / _READY_MARKER).exists():
            return _blob_main(root)
        npm = shutil.which("npm")
        if npm is None:
            raise AzuriteUnavailable("npm is not installed, so Azurite cannot be installed")
        shutil.rmtree(root / "node_modules", ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
        cmd = [npm, "install", "--prefix", str(root), PACKAGE, "--no-audit", "--no-fund"]
        cmd += ["--no-update-notifier", "--loglevel=error", "--fetch-retries=1"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AzuriteUnavailable(f"`npm install {PACKAGE}` took over {timeout:.0f}s") from e
        if done.returncode != 0:
            reason = " / ".join(done.stderr.strip().splitlines()[:3])  # code, syscall, url
            raise AzuriteUnavailable(f"`npm install {PACKAGE}` failed: {reason}")
        (root / _READY_MARKER).write_text(PACKAGE)
        return _blob_main(root)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    """True once something speaks HTTP on the port (any status: we send no credentials)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET /{DEV_ACCOUNT}?comp=list HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            return sock.recv(16).startswith(b"HTTP/1.1")
    except OSError:
        return False


class AzuriteServer:
    """One ``azurite-blob`` process on 127.0.0.1 with the dev account."""

    def __init__(self, script: Optional[Path] = None) -> None:
        self.script = script
        self.port = 0
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._workdir: Optional[str] = None

    @property
    def url(self) -> str:
        """The account URL (path-style, as for any IP-addressed storage endpoint)."""
        return f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint={self.url};"
        )

    def start(self, timeout: float = 30) -> AzuriteServer:
        node = shutil.which("node")
        if node is None:
            raise AzuriteUnavailable("node is not installed, so Azurite cannot run")
        self.script = self.script or ensure_installed()
        log = ""
        for _attempt in range(3):  # the free port can be taken before Azurite binds it
            if self._launch(node, timeout):
                return self
            log = self._log_tail()
            self.stop()
        raise AzuriteUnavailable(f"azurite-blob did not start: {log}")

    def _launch(self, node: str, timeout: float) -> bool:
        self.port = free_port()
        self._workdir = tempfile.mkdtemp(prefix="mlx-azurite-")
        # --disableTelemetry: Azurite reports to Application Insights by default.
        # --skipApiVersionCheck: azure-storage-blob may be newer than this Azurite.
        flags = ["--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--inMemoryPersistence"]
        flags += ["--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"]
        with open(Path(self._workdir, "azurite.log"), "wb") as log:
            self._proc = subprocess.Popen(
                [node, str(self.script), *flags],
                cwd=self._workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() kills node and children
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._proc.poll() is None:
            if _answers(self.port):
                return True
            time.sleep(0.1)
        return False

    def _log_tail(self) -> str:
        log = Path(self._workdir or "", "azurite.log")
        return log.read_text(errors="replace")[-800:] if log.is_file() else "(no log)"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _kill_group(proc)
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    # --- helpers for tests -------------------------------------------------------------

    def service_client(self) -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def create_container(self, name: Optional[str] = None) -> str:
        """Create a container (a fresh unique name unless given) and return its name."""
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        self.service_client().create_container(name)
        return name

    def delete_all_containers(self) -> None:
        client = self.service_client()
        for container in client.list_containers():
            client.delete_container(container.name)

    def container_sas_url(
        self, container: str, permission: str = "racwdl", minutes: int = 60
    ) -> str:
        """``http://127.0.0.1:PORT/devstoreaccount1/<container>?<sas>`` signed with the dev key."""
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        sas = generate_container_sas(
            DEV_ACCOUNT,
            container,
            account_key=DEV_KEY,
            permission=ContainerSasPermissions.from_string(permission),
            expiry=datetime.now(timezone.utc) + timedelta(minutes=minutes),
        )
        return f"{self.url}/{container}?{sas}"

    def blob_sas_url(
        self, container: str, blob: str, permission: str = "r", minutes: int = 60
    ) -> str:
        """A SAS URL for one blob, like those Azure ML hands out for log files."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        sas = generate_blob_sas(
            DEV_ACCOUNT,
            container,
            blob,
            account_key=DEV_KEY,
            permission=BlobSasPermissions.from_string(permission),
            expiry=datetime.now(timezone.utc) + timedelta(minutes=minutes),
        )
        return f"{self.url}/{container}/{quote(blob, safe='/~')}?{sas}"


def _die_with_parent() -> None:
    """Linux: the kernel kills Azurite if pytest itself is killed (no stop() then)."""
    with suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            pass
        break
    with suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)
