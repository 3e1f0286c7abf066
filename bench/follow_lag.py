"""Follow lag and calls per minute of `mlx logs -f` on each cloud's emulator, 1 to 64 nodes.

    python bench/follow_lag.py [--clouds sagemaker,vertex,azure] [--nodes 1,8,64]
                               [--seconds 20] [--repo DIR]

For each cloud and node count: writers append, every ``TICK`` seconds, ``PER_TICK`` lines
per node (10 lines/s per node), each line carrying the moment it became visible to the
log store — CloudWatch Logs (moto behind ``tests/emulators/aws.py``, one stream per node),
Cloud Logging (the gRPC test server, one ``task_name`` per replica), Azure append blobs
(Azurite, one blob per rank). One follower reads them through mlx's own reader for that
cloud and ``mlx.cloud.follow.follow``, with the provider's production pacing (no
``MLX_PACING``), and notes when it yields each line. Lag = yielded - visible; the calls
are the log-store requests the emulator saw after a 3 s warm-up, per minute. The job's
state is a local flag here, so the one state call per poll (DescribeTrainingJob,
GetCustomJob, the Azure ML run) is not counted.

``--repo`` runs the mlx of another checkout (e.g. ``git archive HEAD``) the same way, as
the baseline.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
TICK = 0.2  # seconds between two appends of one node
PER_TICK = 2  # lines per node per append: 10 lines/s per node
WARMUP = 3.0  # seconds before calls are counted


class Run:
    """One measurement: the writer, the follower, the lags."""

    def __init__(self, nodes: int, seconds: float) -> None:
        self.nodes, self.seconds = nodes, seconds
        self.printed: list[tuple[str, float]] = []
        self.stop = threading.Event()
        self.done = False

    def follow(self, lines: Iterator[Any]) -> None:
        for line in lines:
            if line.text.startswith("w "):
                self.printed.append((line.text, time.time()))

    def lags(self, visible: dict[str, float]) -> list[float]:
        """Printed - visible: the moment the store took the line (``visible``, from writers
        in another process), else the time stamped in the line (writers in this one)."""
        return sorted(
            printed - visible.get(text, float(text.rsplit(" ", 1)[1]))
            for text, printed in self.printed
        )

    def write(self, append: Callable[[int, list[str], float], None]) -> None:
        tick = 0
        while not self.stop.is_set():
            now = time.time()
            for node in range(self.nodes):
                texts = [f"w {node} {tick}.{i} {now:.6f}" for i in range(PER_TICK)]
                append(node, texts, now)
            tick += 1
            self.stop.wait(max(0.0, TICK - (time.time() - now)))


def measure(cloud: str, nodes: int, seconds: float) -> dict[str, Any]:
    from mlx.cloud.follow import follow
    from mlx.cloud.pacing import current
    from mlx.model import LogQuery
    from mlx.providers import get

    pacing = current(get(cloud).pacing)
    run = Run(nodes, seconds)
    setup = {"sagemaker": sagemaker, "vertex": vertex, "azure": azure}[cloud]
    context = setup(nodes)
    with context as (reader, append, calls):
        query = LogQuery(follow=True)
        lines = follow(reader, query, lambda: run.done, pacing, start=time.time() - 60)
        reader_thread = threading.Thread(target=run.follow, args=(lines,), daemon=True)
        writer = threading.Thread(target=run.write, args=(append,), daemon=True)
        writer.start()
        reader_thread.start()
        time.sleep(WARMUP)
        counted = calls()
        time.sleep(seconds)
        counted = calls() - counted
        run.stop.set()
        writer.join()
        run.done = True
        reader_thread.join(timeout=60)
    lags = run.lags(getattr(context, "visible", {}))
    return {
        "lines": len(lags),
        "median": statistics.median(lags) if lags else float("nan"),
        "p95": lags[int(0.95 * (len(lags) - 1))] if lags else float("nan"),
        "calls_per_min": counted * 60 / seconds,
        "log_poll": pacing.log_poll,
    }


# --- the emulators ----------------------------------------------------------------------


class sagemaker:
    """CloudWatch Logs in moto; the follower's FilterLogEvents by the job's prefix."""

    def __init__(self, nodes: int) -> None:
        from tests.emulators.aws import AwsServer

        self.server = AwsServer().start()
        os.environ.update(
            AWS_ENDPOINT_URL=self.server.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )

    def __enter__(self) -> tuple[Any, Callable[..., None], Callable[[], int]]:
        from mlx.backends.sagemaker.logs import LOG_GROUP, CloudWatchReader

        job = self.job = f"bench-follow-{time.time_ns()}"  # moto's store outlives the server

        def append(node: int, texts: list[str], now: float) -> None:
            ms = int(now * 1000)
            events = [(ms, text) for text in texts]
            self.server.put_log_lines(LOG_GROUP, f"{job}/algo-{node + 1}-1700000000", events)

        reader = CloudWatchReader(self.server.client("logs"), f"{job}/")
        return reader, append, lambda: len(self.server.requests("FilterLogEvents"))

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


class vertex:
    """The Cloud Logging gRPC test server; one filter for all replicas."""

    def __init__(self, nodes: int) -> None:
        self.server = indexed_logging_server().start()
        home = Path(os.environ.setdefault("MLX_HOME", "/tmp/mlx-bench-follow-home"))
        home.mkdir(parents=True, exist_ok=True)
        self.budget: Any = None

    def __enter__(self) -> tuple[Any, Callable[..., None], Callable[[], int]]:
        import grpc
        from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
        from google.cloud.logging_v2.services.logging_service_v2.transports import (
            LoggingServiceV2GrpcTransport,
        )

        from mlx.backends.vertex import logs
        from mlx.model import LogQuery

        channel = grpc.insecure_channel(self.server.address)
        client = LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=channel))
        source = logs.Source("test-project", "1234", created_at=time.time())

        def append(node: int, texts: list[str], now: float) -> None:
            task = logs.task_name(node)
            when = datetime.fromtimestamp(now, timezone.utc)
            self.server.append(
                dict(text=t, job_id="1234", task_name=task, timestamp=when) for t in texts
            )

        if "list_page" in inspect.signature(logs.CloudLoggingReader).parameters:
            reader = self._reader(logs, client, source)
        else:  # the baseline: entries through the pager
            reader = logs.CloudLoggingReader(
                lambda request: client.list_log_entries(request=request), source, LogQuery()
            )
        return reader, append, lambda: len(self.server.requests("ListLogEntries"))

    def _reader(self, logs: Any, client: Any, source: Any) -> Any:
        from mlx.cloud.budget import budget_for
        from mlx.cloud.pacing import current
        from mlx.model import LogQuery
        from mlx.providers import get

        def list_page(request: dict[str, Any]) -> tuple[Any, str]:
            page = next(iter(client.list_log_entries(request=request).pages))
            return page.entries, page.next_page_token

        self.budget = budget_for("cloud-logging-bench", current(get("vertex").pacing))
        return logs.CloudLoggingReader(list_page, source, LogQuery(), self.budget.__enter__())

    def __exit__(self, *exc: object) -> None:
        if self.budget is not None:
            self.budget.__exit__(None, None, None)
        self.server.stop()


class azure:
    """Append blobs in Azurite, one per rank, read through a recording proxy. The writers
    run in a process of their own (``python bench/follow_lag.py --azure-writer``), as the
    job's nodes do: 64 nodes append 320 times a second, and azure-core's CPU per append in
    this process would slow the follower through the GIL. Each line is visible from the
    moment its append returned there."""

    def __init__(self, nodes: int) -> None:
        from tests.emulators.azurite import AzuriteServer
        from tests.emulators.proxy import FaultProxy

        self.azurite = AzuriteServer().start()
        self.proxy = FaultProxy(f"http://127.0.0.1:{self.azurite.port}").start()
        self.container = self.azurite.create_container("bench")
        self.nodes = nodes
        self.budget: Any = None
        self.writer: Any = None
        self.visible: dict[str, float] = {}

    def __enter__(self) -> tuple[Any, Callable[..., None], Callable[[], int]]:
        import json
        import subprocess

        from azure.storage.blob import ContainerClient

        from mlx.backends.azure import logs
        from mlx.backends.azure.objects import BlobStore
        from mlx.model import LogQuery

        prefix = "ExperimentRun/dcid.bench/"
        direct = self.azurite.service_client().get_container_client(self.container)
        names = [f"{prefix}user_logs/std_log_process_{rank}.txt" for rank in range(self.nodes)]
        for name in names:
            direct.get_blob_client(name).create_append_blob()
        self.writer = subprocess.Popen(
            [sys.executable, __file__, "--azure-writer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.writer.stdin is not None
        self.writer.stdin.write(
            json.dumps([self.azurite.connection_string, self.container, names]) + "\n"
        )

        def append(node: int, texts: list[str], now: float) -> None:
            assert self.writer.stdin is not None
            self.writer.stdin.write(json.dumps([node, texts]) + "\n")
            if node == self.nodes - 1:  # the tick's appends are all sent
                self.writer.stdin.flush()

        url = self.azurite.connection_string.replace(
            f"http://127.0.0.1:{self.azurite.port}", self.proxy.url
        )
        store = BlobStore(ContainerClient.from_connection_string(url, self.container))
        args: list[Any] = [store, prefix, 1, LogQuery()]
        if "budget" in inspect.signature(logs.LogReader).parameters:
            from mlx.cloud.budget import budget_for
            from mlx.cloud.pacing import current
            from mlx.providers import get

            self.budget = budget_for("azure-logs-bench", current(get("azure").pacing))
            args.append(self.budget.__enter__())
        reader = logs.LogReader(*args)
        return reader, append, lambda: len(self.proxy.requests)

    def __exit__(self, *exc: object) -> None:
        import json

        if self.writer is not None:
            out, _ = self.writer.communicate(timeout=120)  # closes stdin: the writer ends
            self.visible = json.loads(out)
        if self.budget is not None:
            self.budget.__exit__(None, None, None)
        self.proxy.stop()
        self.azurite.stop()


def azure_writer() -> None:
    """The Azure writers' process: appends what stdin asks for, 16 at a time (Azurite
    answers appends one at a time, slowly); at the end, prints when each line became
    visible (its append returned)."""
    import json

    from azure.storage.blob import ContainerClient

    connection, container, names = json.loads(sys.stdin.readline())
    client = ContainerClient.from_connection_string(connection, container)
    blobs = [client.get_blob_client(name) for name in names]
    visible: dict[str, float] = {}

    def append(node: int, texts: list[str]) -> None:
        blobs[node].append_block("".join(f"{t}\n" for t in texts).encode())
        done = time.time()
        for text in texts:
            visible[text] = done

    with ThreadPoolExecutor(16) as pool:
        for line in sys.stdin:
            node, texts = json.loads(line)
            pool.submit(append, node, texts)
    print(json.dumps(visible))


def indexed_logging_server() -> Any:
    """The Cloud Logging test server, finding entries by the filter's time bound first (as
    the service's index does; the server itself scans every entry per request, which at
    64 nodes measures the emulator, not the follower). The bench appends in time order;
    the real filter is still applied to what the bound leaves."""
    import bisect
    import re

    from tests.emulators.cloud_logging import LoggingServer

    bound = re.compile(r'timestamp>="([^"]+)"')

    class Indexed(LoggingServer):
        def __init__(self) -> None:
            super().__init__()
            self.stamps: list[float] = []
            self.local = threading.local()
            self.cache: Any = None  # the last query's entries, while nothing was appended

        def append(self, entries: Any) -> Any:
            with self._changed:  # one lock: stamps and entries stay in step
                added = super().append(entries)
                self.stamps.extend(e.timestamp.timestamp() for e in added)
            return added

        def _list(self, request: Any, context: Any) -> Any:
            self.local.filter = request.filter
            return super()._list(request, context)

        def _select(self, flt: Any, resource_names: Any) -> Any:
            from tests.emulators.cloud_logging import entry_matches, parse_time

            text = getattr(self.local, "filter", "")
            key = (text, tuple(resource_names), len(self.entries))
            if self.cache is not None and self.cache[0] == key:  # the next page of a query
                return list(self.cache[1])
            found = bound.search(text)
            low = parse_time(found.group(1)).timestamp() if found else 0.0
            with self._changed:
                entries = self.entries[bisect.bisect_left(self.stamps, low) :]
            parents = tuple(f"{name}/logs/" for name in resource_names)
            hits = [e for e in entries if e.log_name.startswith(parents) and entry_matches(flt, e)]
            self.cache = (key, hits)
            return list(hits)

    return Indexed()


def main() -> None:
    if sys.argv[1:] == ["--azure-writer"]:
        return azure_writer()
    parser = argparse.ArgumentParser()
    parser.add_argument("--clouds", default="sagemaker,vertex,azure")
    parser.add_argument("--nodes", default="1,8,64")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repo", type=Path, default=REPO, help="the mlx checkout to run")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))  # the emulators
    sys.path.insert(0, str(args.repo.resolve()))  # mlx
    os.environ.pop("MLX_PACING", None)
    print(f"mlx from {args.repo.resolve()}; load {os.getloadavg()[0]:.1f}; {time.ctime()}")
    print("| cloud | nodes | lines | lag median s | lag p95 s | log calls/min | log_poll s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for cloud in args.clouds.split(","):
        for nodes in map(int, args.nodes.split(",")):
            r = measure(cloud, nodes, args.seconds)
            print(
                f"| {cloud} | {nodes} | {r['lines']} | {r['median']:.2f} | {r['p95']:.2f} | "
                f"{r['calls_per_min']:.0f} | {r['log_poll']:g} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
