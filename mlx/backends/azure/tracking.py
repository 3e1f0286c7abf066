"""The workspace's MLflow tracking server, as the Azure ML runner's jobs reach it.

Azure ML sets ``MLFLOW_TRACKING_URI`` (the workspace's ``azureml://<region>.api.azureml.ms/
mlflow/v1.0/...``), ``MLFLOW_RUN_ID`` and ``MLFLOW_EXPERIMENT_ID`` in every job, overriding
any values of the job's own (https://github.com/Azure/azure-sdk-for-python/issues/38813),
so ``mlflow.log_metric`` lands on the job's run; a sweep reads its primary metric there: "the
training script must log the primary metric with ``mlflow.log_metric``"
(https://learn.microsoft.com/azure/machine-learning/how-to-tune-hyperparameters, Log metrics
for hyperparameter tuning).

This stand-in answers the MLflow REST calls a job makes to log metrics
(https://mlflow.org/docs/latest/rest-api.html: ``runs/log-metric``, ``runs/log-batch``,
``runs/get``, ``runs/update``) on 127.0.0.1 (the sandbox shares this machine's network), over
plain http where Azure speaks https, and keeps every metric by run id.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

API = "/mlflow/v1.0/workspace"  # Azure: /mlflow/v1.0/subscriptions/.../workspaces/<ws>


class Tracking:
    """An MLflow tracking endpoint for one job's runs; ``metrics(run)`` is what they logged."""

    def __init__(self) -> None:
        self._metrics: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._httpd: Optional[ThreadingHTTPServer] = None

    def __enter__(self) -> Tracking:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.tracking = self  # type: ignore[attr-defined]
        serve = partial(self._httpd.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, name="mlflow-stand-in", daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def uri(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{API}"

    def log(self, run_id: str, metrics: list[dict[str, Any]]) -> None:
        with self._lock:
            self._metrics.setdefault(run_id, []).extend(metrics)

    def metrics(self, run_id: str) -> list[dict[str, Any]]:
        """``{"key", "value", "step", "timestamp"}`` in the order they were logged."""
        with self._lock:
            return list(self._metrics.get(run_id, []))

    def last(self, run_id: str, key: str) -> Optional[float]:
        """The last value of metric ``key`` logged on ``run_id``."""
        values = [m["value"] for m in self.metrics(run_id) if m.get("key") == key]
        return float(values[-1]) if values else None

    def final(self, run_id: str) -> dict[str, float]:
        """Each metric's last value."""
        return {m["key"]: float(m["value"]) for m in self.metrics(run_id)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        try:
            found = json.loads(data) if data else {}
        except ValueError:
            found = {}
        return found if isinstance(found, dict) else {}

    def do_POST(self) -> None:
        tracking: Tracking = self.server.tracking  # type: ignore[attr-defined]
        body = self._body()
        path = self.path.split("?", 1)[0]
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            # Azure's endpoint takes the job's token (azureml-mlflow sends it as a bearer).
            self._answer(401, {"error_code": "UNAUTHENTICATED", "message": "no bearer token"})
            return
        run_id = str(body.get("run_id") or body.get("run_uuid") or "")
        if path.endswith("/runs/log-metric"):
            tracking.log(run_id, [_metric(body)])
        elif path.endswith("/runs/log-batch"):
            tracking.log(run_id, [_metric(m) for m in body.get("metrics") or []])
        self._answer(200, {})

    def do_GET(self) -> None:
        # runs/get: the mlflow client reads the run before it logs to MLFLOW_RUN_ID, and the
        # bootstrap reads back what the script logged; ``data.metrics`` holds each metric's
        # latest value (https://mlflow.org/docs/latest/rest-api.html#get-run, RunData).
        tracking: Tracking = self.server.tracking  # type: ignore[attr-defined]
        run_id = self.path.partition("run_id=")[2].split("&", 1)[0]
        info = {"run_id": run_id, "run_uuid": run_id, "experiment_id": "0", "status": "RUNNING"}
        latest: dict[str, dict[str, Any]] = {}
        for m in tracking.metrics(run_id):  # MLflow's latest: the highest step, then time
            old = latest.get(m["key"])
            if old is None or (m["step"], m["timestamp"]) >= (old["step"], old["timestamp"]):
                latest[m["key"]] = m
        self._answer(200, {"run": {"info": info, "data": {"metrics": list(latest.values())}}})


def _metric(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": str(entry.get("key")),
        "value": float(entry.get("value") or 0.0),
        "step": int(entry.get("step") or 0),
        "timestamp": int(entry.get("timestamp") or 0),
    }
