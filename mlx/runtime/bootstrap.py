"""The bootstrap: mlx's entry point inside every job.

    python mlx-bootstrap.pyz --config runtime.json -- python train.py --epochs 3

It sets the in-job contract's environment (``contract.py``), appends the hyperparameters
rendered by the one argv rule (``argv.py``), runs the command, passes its output through as
it arrives, parses the spec's metrics from stdout and reports them the platform's way, and
exits with the command's exit code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any, Optional

from mlx.runtime.argv import decode_from_sagemaker, render_args
from mlx.runtime.contract import job_environment
from mlx.runtime.metrics import MetricParser, make_reporters, warn

SAGEMAKER_HPS = "/opt/ml/input/config/hyperparameters.json"


def _parse_args(argv: list[str]) -> tuple[str, list[str]]:
    if "--" not in argv:
        raise SystemExit("usage: bootstrap --config FILE -- COMMAND [ARGS...]")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    if len(options) != 2 or options[0] != "--config" or not command:
        raise SystemExit("usage: bootstrap --config FILE -- COMMAND [ARGS...]")
    return options[1], command


def load_hyperparameters(config: dict[str, Any]) -> dict[str, Any]:
    """The job's hyperparameters: from the config, or SageMaker's hyperparameters.json.

    SageMaker tuning jobs write the trial's values (strings) into hyperparameters.json;
    mlx JSON-encodes the static ones, so lists and flags survive the trip.
    """
    source = config.get("hyperparameters_file")
    if source:
        with open(source, encoding="utf-8") as f:
            raw = json.load(f)
        hps = decode_from_sagemaker(raw) if config.get("hyperparameters_encoded") else raw
    else:
        hps = dict(config.get("hyperparameters") or {})
    # SageMaker adds its own bookkeeping entries to hyperparameters.json; they are not the
    # script's arguments.
    return {k: v for k, v in hps.items() if not k.startswith(("sagemaker_", "_tuning_objective"))}


def node_info(config: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Number of nodes and this node's rank: from the launcher's variables or the config."""
    num_nodes = environ.get("MLX_NUM_NODES") or config.get("num_nodes") or 1
    rank = environ.get("MLX_NODE_RANK") or config.get("node_rank") or 0
    return {"num_nodes": int(num_nodes), "node_rank": int(rank)}


def build_command(config: dict[str, Any], command: list[str], hps: dict[str, Any]) -> list[str]:
    return [*command, *render_args(hps, config.get("args_style") or "flags")]


def _pump(child: subprocess.Popen[bytes], parser: MetricParser, reporters: list[Any]) -> None:
    """Copy the child's stdout through as it arrives; parse complete lines for metrics."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    out = sys.stdout.buffer
    pending = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out.write(chunk)
        out.flush()
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            for metric in parser.feed(line.decode("utf-8", "replace")):
                for reporter in reporters:
                    reporter.report(metric)
    if pending:
        for metric in parser.feed(pending.decode("utf-8", "replace")):
            for reporter in reporters:
                reporter.report(metric)


def _write_failure(config: dict[str, Any], reason: str) -> None:
    path = config.get("failure_file")
    if not path:
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(reason[:1000])
    except OSError:
        pass


def run(
    config: dict[str, Any], command: list[str], environ: Optional[dict[str, str]] = None
) -> int:
    """Run ``command`` under the contract; return its exit code (128+N for signal N)."""
    environ = dict(os.environ if environ is None else environ)
    hps = load_hyperparameters(config)
    config = {**config, **node_info(config, environ), "hyperparameters": hps}
    env = {**environ, **job_environment(config, environ)}
    for key in ("model_dir", "checkpoint_dir", "output_dir"):
        os.makedirs(config[key], exist_ok=True)
    argv = build_command(config, command, hps)
    parser = MetricParser(config.get("metrics") or [])
    reporters = make_reporters(config)
    try:
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env, cwd=config.get("workdir"))
    except OSError as e:
        reason = "cannot start %r: %s" % (argv[0], e.strerror or e)
        warn(reason)
        _write_failure(config, reason)
        return 127

    def forward(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    try:
        _pump(child, parser, reporters)
        code = child.wait()
    finally:
        for reporter in reporters:
            reporter.close()
    if code < 0:
        code = 128 - code
    if code != 0:
        _write_failure(config, "%s exited with code %d" % (argv[0], code))
    return code


def main(argv: Optional[list[str]] = None) -> int:
    config_path, command = _parse_args(list(sys.argv[1:] if argv is None else argv))
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    return run(config, command)
