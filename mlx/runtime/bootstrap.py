"""The bootstrap: mlx's entry point inside every job.

    python mlx-bootstrap.pyz --config runtime.json -- python train.py --epochs 3
    python mlx-bootstrap.pyz --config runtime.json      (the command is the config's)

The second form serves launchers that cannot pass a command, such as SageMaker tuning
jobs, which start the image through the training toolkit's ``sagemaker_program``.

It sets the in-job contract's environment (``contract.py``), appends the hyperparameters
rendered by the one argv rule (``argv.py``), runs the command, passes its output through as
it arrives, collects the spec's metrics from every channel (``channels.py``) and reports
them the platform's way, and exits with the command's exit code.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
from typing import Any, Optional

from mlx.runtime import channels, compat_sagemaker, placeholders, requirements
from mlx.runtime.argv import decode_from_sagemaker, render_configured
from mlx.runtime.contract import job_environment
from mlx.runtime.metrics import warn

SAGEMAKER_HPS = "/opt/ml/input/config/hyperparameters.json"


# Values a platform substitutes into the bootstrap's command line (Azure ML's
# ``${{inputs.x}}``); the platform adapter folds them into the config (``apply_placed``).
PLACED_KINDS = ("input", "output", "hp")

_USAGE = (
    "usage: bootstrap (--config FILE | --config-env VARIABLE) "
    "[--input|--output|--hp NAME=VALUE]... [-- COMMAND [ARGS...]]"
)


def _parse_args(argv: list[str]) -> tuple[tuple[str, str], list[tuple[str, str, str]], list[str]]:
    """``((--config or --config-env, its value), placed options, command)``.

    ``--input``/``--output``/``--hp NAME=VALUE`` carry what the platform substitutes into
    the command line (Azure ML's ``${{inputs.x}}``), folded in by the platform adapter.
    """
    split = argv.index("--") if "--" in argv else len(argv)
    options, command = argv[:split], argv[split + 1 :]
    if (
        len(options) < 2
        or len(options) % 2
        or options[0] not in ("--config", "--config-env")
        or (split < len(argv) and not command)
    ):
        raise SystemExit(_USAGE)
    placed = []
    for flag, value in zip(options[2::2], options[3::2]):
        name, sep, text = value.partition("=")
        if flag[2:] not in PLACED_KINDS or not flag.startswith("--") or not sep or not name:
            raise SystemExit(_USAGE)
        placed.append((flag[2:], name, text))
    return (options[0], options[1]), placed, command


def _load_config(source: tuple[str, str]) -> dict[str, Any]:
    """The runtime config from a file, or from an environment variable holding its JSON
    (Azure ML: per-job settings stay out of the code snapshot, so unchanged code is not
    uploaded again)."""
    flag, value = source
    if flag == "--config-env":
        return json.loads(os.environ[value])
    with open(value, encoding="utf-8") as f:
        return json.load(f)


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
    # A float range's value may come back as "1" from the tuner: keep it a float, so the
    # script sees 1.0 as it would locally.
    for key in config.get("float_hyperparameters") or []:
        if isinstance(hps.get(key), int) and not isinstance(hps[key], bool):
            hps[key] = float(hps[key])
    # SageMaker adds its own bookkeeping entries to hyperparameters.json; they are not the
    # script's arguments.
    hps = {k: v for k, v in hps.items() if not k.startswith(("sagemaker_", "_tuning_objective"))}
    return in_order(hps, config.get("hyperparameter_order") or [])


def in_order(hps: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """``hps`` in the spec's ``order`` (names it does not list last, as they came): a
    hyperparameters file is a JSON object, whose key order the platform does not promise."""
    ordered = {k: hps[k] for k in order if k in hps}
    ordered.update((k, v) for k, v in hps.items() if k not in ordered)
    return ordered


def node_info(config: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Number of nodes, this node's rank and the host names.

    From the launcher's variables (local), else the platform's resource config (SageMaker's
    ``resourceconfig.json``: ``current_host`` and ``hosts``), else the runtime config.
    """
    # SageMaker's resourceconfig.json; other platforms' adapters put it in the config.
    info = _resource_config(config.get("resource_config"))
    result = {
        "num_nodes": int(
            _first(environ.get("MLX_NUM_NODES"), info.get("num_nodes"), config.get("num_nodes"), 1)
        ),
        "node_rank": int(
            _first(environ.get("MLX_NODE_RANK"), info.get("node_rank"), config.get("node_rank"), 0)
        ),
    }
    hosts = info.get("hosts") or config.get("hosts")
    if hosts:
        result["hosts"] = hosts
    return result


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None and v != "")


def _resource_config(path: Optional[str]) -> dict[str, Any]:
    """``{"num_nodes", "node_rank", "hosts"}`` from SageMaker's resourceconfig.json, if any."""
    if not path or not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    hosts = list(data.get("hosts") or [])
    current = data.get("current_host")
    if not hosts or current not in hosts:
        return {}
    return {"num_nodes": len(hosts), "node_rank": hosts.index(current), "hosts": hosts}


def platform_adapter(config: dict[str, Any]) -> Any:
    """The platform adapter the runtime config names (``adapter``: a module of this
    zipapp, chosen by the provider that wrote the config), or None.

    An adapter has ``adapt_job(config, command, environ) -> (config, command)``,
    ``reporters(config) -> list of Reporter``, optionally ``channel_readers(config,
    environ)`` (the platform's own metric channels: ``channels.FileChannels``), and, where
    the platform substitutes values
    into the command line, ``apply_placed(config, placed) -> config``.
    """
    name = config.get("adapter")
    if not name:
        return None
    return importlib.import_module(str(name))


def build_command(config: dict[str, Any], command: list[str], hps: dict[str, Any]) -> list[str]:
    # Where the launcher already put the rendered hyperparameters on the command line
    # (SageMaker's ContainerArguments), they are not added a second time; a SageMaker-style
    # container reads them from hyperparameters.json (compat_sagemaker), not from argv.
    if config.get("hyperparameters_in_argv") or config.get("compat") == compat_sagemaker.MODE:
        return list(command)
    return [*command, *render_configured(config, hps)]


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
    adapter = platform_adapter(config)
    if adapter is not None:  # the platform's paths, trial arguments, ranks, reporters
        config, command = adapter.adapt_job(config, command, environ)
    hps = load_hyperparameters(config)
    config = {**config, **node_info(config, environ), "hyperparameters": hps}
    if config.get("checkpoint_per_node") and int(config["num_nodes"]) > 1:
        # The nodes share one checkpoint location (SageMaker's CheckpointConfig, Vertex's
        # AIP_CHECKPOINT_DIR, Azure's output): each keeps its own folder in it.
        node = "node-%d" % int(config["node_rank"])
        config["checkpoint_dir"] = os.path.join(config["checkpoint_dir"], node)
    # ${{inputs.x}}, ${{outputs.model}}, ${{name}}: the paths and id of this job (this node).
    values = placeholders.values_of(config, environ)
    hps = config["hyperparameters"] = placeholders.resolve_hyperparameters(hps, values)
    command = placeholders.resolve_words(command, values)
    env = {**environ, **job_environment(config, environ)}
    for key in ("model_dir", "checkpoint_dir", "output_dir"):
        os.makedirs(config[key], exist_ok=True)
    if config.get("compat") == compat_sagemaker.MODE:
        try:
            env.update(compat_sagemaker.prepare(config, environ))
        except compat_sagemaker.CompatError as e:
            warn(str(e))
            _write_failure(config, str(e))
            return 1
    # The code's requirements.txt: installed, checked or skipped (requirements.py).
    env, failure = requirements.prepare(config, command, env, warn)
    if failure:
        warn(failure)
        _write_failure(config, failure)
        return 1
    argv = build_command(config, command, hps)
    if may_exec(config, adapter):
        return exec_command(config, argv, env)
    files = channels.FileChannels(config, env, adapter)  # the job's hypertune file, MLflow
    env.update(files.environment)
    outputs = (channels.LineOutput(sys.stdout.buffer), channels.LineOutput(sys.stderr.buffer))
    reporters = channels.reporters_for(config, adapter, outputs[0])
    collector = channels.Collector([m["name"] for m in config.get("metrics") or []], reporters)
    try:
        child = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=config.get("workdir")
        )
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
        code = channels.run_collecting(child, files, collector, config, outputs)
    finally:
        for reporter in reporters:
            reporter.close()
    if code == 0 and reporters:  # the process that reports (node 0; Azure: process 0)
        channels.warn_missing(collector, files.looked_at())
    if code < 0:
        code = 128 - code
    if code != 0:
        _write_failure(config, "%s exited with code %d" % (argv[0], code))
    return code


def may_exec(config: dict[str, Any], adapter: Any) -> bool:
    """Whether the bootstrap has nothing to do once the command runs, so it may become the
    command (``exec``): one process less, and the output reaches the launcher without
    passing through here. Only where the launcher allows it (``may_exec``: local's
    supervisor, which reads a signal's exit as 128+N itself), and only without metrics to
    collect from the output or the channel files, a failure file to write, or a platform
    adapter or compatibility mode that acts during the run."""
    return bool(
        config.get("may_exec")
        and not config.get("metrics")
        and not config.get("failure_file")
        and not config.get("compat")
        and adapter is None
    )


def exec_command(config: dict[str, Any], argv: list[str], env: dict[str, str]) -> int:
    """Replace this process with ``argv`` in the job's working directory; on a command
    that cannot start, say so as ``run`` does and return 127."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if config.get("workdir"):
            os.chdir(config["workdir"])
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        reason = "cannot start %r: %s" % (argv[0], e.strerror or e)
        warn(reason)
        return 127
    return 127  # not reached: execvpe returns only by raising


def main(argv: Optional[list[str]] = None) -> int:
    source, placed, command = _parse_args(list(sys.argv[1:] if argv is None else argv))
    config = _load_config(source)
    if placed:
        adapter = platform_adapter(config)
        if adapter is None or not hasattr(adapter, "apply_placed"):
            raise SystemExit(_USAGE + " (--input/--output/--hp need a platform adapter)")
        config = adapter.apply_placed(config, placed)
    command = command or list(config.get("command") or [])
    if not command:
        raise SystemExit(_USAGE + " (the config has no command)")
    return run(config, command)
