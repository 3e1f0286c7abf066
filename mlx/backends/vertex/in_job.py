"""Vertex AI inside the job: the ``/gcs/`` mount, ``CLUSTER_SPEC`` and trial arguments.

Standard library only (Python 3.8+): the bootstrap zipapp carries it as this provider's
platform adapter (``Provider.runtime_adapter``; see ``mlx.runtime.bootstrap``).

- Vertex mounts Cloud Storage at ``/gcs/<bucket>/`` (Cloud Storage FUSE) and gives the
  job's output locations as ``gs://`` URIs (``AIP_MODEL_DIR``, ``AIP_CHECKPOINT_DIR``),
  per trial in tuning jobs; the script gets them as paths under the mount.
- Multi-node jobs learn their place from ``CLUSTER_SPEC`` (JSON: ``cluster`` maps pool
  names to ``host:port`` addresses, ``task`` says which pool and index this replica is;
  https://cloud.google.com/vertex-ai/docs/training/distributed-training#cluster-spec-format).
  The primary replica (pool 0's one host, and its port) is ``torch.distributed``'s master;
  every node keeps its checkpoints in a folder of its own (``node-<rank>``, the runtime
  config's ``checkpoint_per_node``): the replicas share one ``AIP_CHECKPOINT_DIR``.
- The code staged on the mount is shared by every replica and by every trial of a tuning
  job (parallel trials too): each replica runs in a local copy of it, so files a script
  writes beside itself never meet another's.
- Tuning trials receive the sampled values as ``--<parameter_id>=<value>`` arguments that
  Vertex appends to the container's args (after the static hyperparameters mlx rendered
  there, so the console shows them); ``trial_command`` takes both back off and renders
  static and trial values together by the one argv rule, as on local.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any, Optional

from mlx.runtime.argv import render_configured
from mlx.runtime.values import trial_value

GCS_MOUNT = "/gcs/"
HYPERTUNE_FILE = "/tmp/hypertune/output.metrics"  # cloudml-hypertune's default


def gcs_path(uri: str) -> str:
    """``gs://bucket/a/b`` -> ``/gcs/bucket/a/b``; anything else is returned unchanged."""
    if uri.startswith("gs://"):
        return GCS_MOUNT + uri[len("gs://") :]
    return uri


def cluster_nodes(environ: Mapping[str, str]) -> dict[str, Any]:
    """``{"num_nodes", "node_rank", "master_addr", "master_port"}`` from Vertex's
    ``CLUSTER_SPEC``, or {} without one.

    Replicas are numbered across pools in pool order: ``workerpool0-0`` is node 0 and
    ``workerpool1-k`` node k+1 (mlx puts one replica in pool 0 and the rest in pool 1).
    The master is pool 0's replica, at the host and port ``CLUSTER_SPEC`` gives it.
    """
    try:
        spec = json.loads(environ.get("CLUSTER_SPEC") or "")
        pools = spec["cluster"]
        task = spec["task"]
        names = sorted((name for name in pools if name.startswith("workerpool")), key=_pool_index)
        before = sum(len(pools[name]) for name in names[: names.index(task["type"])])
        found: dict[str, Any] = {
            "num_nodes": sum(len(pools[name]) for name in names),
            "node_rank": before + int(task["index"]),
        }
        host, _, port = str(pools[names[0]][0]).rpartition(":")
    except (ValueError, KeyError, TypeError, IndexError):
        return {}
    if host and port.isdigit():
        found.update(master_addr=host, master_port=int(port))
    return found


def _pool_index(name: str) -> int:
    digits = name[len("workerpool") :]
    return int(digits) if digits.isdigit() else 0


def platform_dirs(environ: Mapping[str, str]) -> dict[str, str]:
    """Model, checkpoint and output dirs under the mount, from Vertex's ``AIP_*`` URIs.

    ``output_dir`` is the ``output`` sibling of the model dir, so a trial's outputs stay
    under that trial's prefix (``<job>/<trial>/output``).
    """
    model = environ.get("AIP_MODEL_DIR")
    if not model:
        return {}
    model_dir = gcs_path(model).rstrip("/")
    dirs = {
        "model_dir": model_dir,
        "output_dir": posixpath.join(posixpath.dirname(model_dir), "output"),
    }
    checkpoints = environ.get("AIP_CHECKPOINT_DIR")
    if checkpoints:
        dirs["checkpoint_dir"] = gcs_path(checkpoints).rstrip("/")
    return dirs


def _trial_arg(args: list[str], end: int, space: Mapping[str, Any]) -> Optional[tuple]:
    """The ``--name=value`` or ``--name value`` ending at ``args[end-1]``: (name, raw, width)."""
    last = args[end - 1]
    if last.startswith("--") and "=" in last:
        name, _, raw = last[2:].partition("=")
        if name in space:
            return name, raw, 1
    if end >= 2 and args[end - 2].startswith("--") and args[end - 2][2:] in space:
        return args[end - 2][2:], last, 2
    return None


def fold_trial_args(
    command: list[str], hyperparameters: Mapping[str, Any], space: Mapping[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """Take the trial's arguments off the end of ``command``; merge them over the static
    hyperparameters in the search space's order (as the local tuner does)."""
    end, chosen = len(command), {}
    while end > 0:
        found = _trial_arg(command, end, space)
        if found is None or found[0] in chosen:
            break
        name, raw, width = found
        chosen[name] = trial_value(space[name], raw)
        end -= width
    ordered = {name: chosen[name] for name in space if name in chosen}
    return command[:end], {**hyperparameters, **ordered}


def static_tail(config: Mapping[str, Any]) -> list[str]:
    """The static hyperparameters that are not tuned, rendered: the end of a trial's args
    before Vertex appends the trial's values (``study.trial_args`` put them there)."""
    space = config.get("search_space") or {}
    static = {k: v for k, v in (config.get("hyperparameters") or {}).items() if k not in space}
    return render_configured(config, static)


def trial_command(
    config: Mapping[str, Any], command: list[str]
) -> tuple[list[str], dict[str, Any]]:
    """A trial's command and hyperparameters, the command as local renders it.

    Takes the trial's arguments and then the static tail off the end of ``command`` and
    appends every hyperparameter rendered in local's order (the static ones in the spec's
    order, the tuned ones in the search space's). A config without
    ``hyperparameters_in_argv`` (the static values are not in the args) leaves the
    rendering to the bootstrap.
    """
    space = config.get("search_space") or {}
    command, hps = fold_trial_args(command, config.get("hyperparameters") or {}, space)
    if not config.get("hyperparameters_in_argv"):
        return command, hps
    tail = static_tail(config)
    if tail and command[-len(tail) :] == tail:
        command = command[: -len(tail)]
    return [*command, *render_configured(config, hps)], hps


def adapt(
    config: Mapping[str, Any], command: list[str], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The runtime config and command for this replica of a Vertex job."""
    adapted = dict(config)
    adapted.update(platform_dirs(environ))
    adapted.update(cluster_nodes(environ))  # this replica's place, when there are several
    if str(adapted.get("workdir") or "").startswith(GCS_MOUNT):
        adapted["workdir"] = local_copy(adapted["workdir"])
    if config.get("search_space"):
        command, adapted["hyperparameters"] = trial_command(config, command)
    adapted["hypertune_file"] = environ.get("CLOUD_ML_HP_METRIC_FILE") or HYPERTUNE_FILE
    adapted["trial_id"] = environ.get("CLOUD_ML_TRIAL_ID") or "0"
    return adapted, command


def local_copy(folder: str) -> str:
    """A copy of ``folder`` (the code on the shared mount) on this replica's own disk."""
    copy = tempfile.mkdtemp(prefix="mlx-code-")
    shutil.copytree(folder, copy, symlinks=True, dirs_exist_ok=True)
    os.chmod(copy, 0o755)
    return copy


def adapt_job(
    config: Mapping[str, Any], command: list[str], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The platform adapter's entry (see ``bootstrap.platform_adapter``): ``adapt``."""
    return adapt(config, command, environ)


def reporters(config: Mapping[str, Any]) -> list[Any]:
    """Vertex's tuner reads the objective from the hypertune metrics file."""
    from mlx.runtime.metrics import HypertuneReporter

    if not (config.get("report") and config.get("objective")):
        return []
    path = config.get("hypertune_file") or HYPERTUNE_FILE
    return [HypertuneReporter(path, config["objective"], config.get("trial_id", 0))]
