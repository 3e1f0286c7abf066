"""``compat: sagemaker``: what a SageMaker bring-your-own container expects, on any platform.

A BYO training image reads fixed paths under ``/opt/ml`` and no arguments ("How Amazon
SageMaker AI Provides Training Information",
https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html):

- ``input/config/hyperparameters.json``: the job's hyperparameters, every value a string;
- ``input/config/resourceconfig.json``: ``current_host`` and ``hosts``;
- ``input/config/inputdataconfig.json``: one entry per channel (its input mode);
- ``input/data/<channel>/``: a channel's files (File mode: a directory, always);
- ``model/``: what the job saves as its model; ``output/data/``: other output files
  ("How Amazon SageMaker AI Processes Training Output",
  https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html);
- ``checkpoints/``: CheckpointConfig.LocalPath's default
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CheckpointConfig.html).

``lay_out`` builds that tree with links to the job's real inputs and outputs, so what the
script writes lands where mlx collects every job's artifacts. It needs to create ``/opt/ml``:
containers run as root on Vertex AI and Azure ML unless their image names another USER (Azure
ML's base images set ``USER root``: Azure/AzureML-Containers#24; on Vertex, the root user is
what users observe, GoogleCloudPlatform/cloudml-hypertune#6); local jobs get a sandbox with
``/opt/ml`` bound to a folder of the job's (``mlx.backends.local.sandboxed``). On SageMaker
the platform lays the tree out itself and this module is not used.

Standard library only (Python 3.8+): shipped in the bootstrap zipapp.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from mlx.runtime.argv import format_scalar
from mlx.runtime.contract import hosts_for

ROOT = "/opt/ml"
MODE = "sagemaker"  # the spec's `compat:` value: this layout's name, not a provider choice


class CompatError(Exception):
    """The layout cannot be made; the message says why, in one line."""


def plain_string(value: Any) -> str:
    """A hyperparameter's value as SageMaker shows and stores it: a plain string.

    The one rule for SageMaker's strings: the training request's ``HyperParameters`` (what
    the console shows and hyperparameters.json holds) and the hyperparameters.json this
    module writes on other platforms. Scalars as the argv rule writes them (``0.01``,
    ``true``), lists as JSON (``[64, 32]``), a value-less flag as the empty string.
    """
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    return "" if value is None else format_scalar(value)


def plain_hyperparameters(hyperparameters: Mapping[str, Any]) -> dict[str, str]:
    return {str(key): plain_string(value) for key, value in hyperparameters.items()}


def sagemaker_paths(config: Mapping[str, Any], root: str = ROOT) -> dict[str, str]:
    """The SageMaker variables (``SM_*``) for the laid-out tree: a script that takes its
    paths from them sees the same ``/opt/ml`` paths it would read on SageMaker."""
    env = {
        "SM_MODEL_DIR": root + "/model",
        "SM_OUTPUT_DATA_DIR": root + "/output/data",
        "SM_CHECKPOINT_DIR": root + "/checkpoints",
        "SM_INPUT_DIR": root + "/input",
        "SM_INPUT_CONFIG_DIR": root + "/input/config",
        "SM_OUTPUT_DIR": root + "/output",
    }
    for name in config.get("inputs") or {}:
        env["SM_CHANNEL_" + name.upper().replace("-", "_")] = "%s/input/data/%s" % (root, name)
    return env


def prepare(config: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Lay ``/opt/ml`` out for ``config``; the ``SM_*`` variables to set (those the
    platform has not set itself)."""
    lay_out(config)
    return {k: v for k, v in sagemaker_paths(config).items() if k not in environ}


def lay_out(config: Mapping[str, Any], root: str = ROOT) -> None:
    """Make ``root`` what a SageMaker BYO container expects, for the job ``config`` runs.

    ``config`` is the bootstrap's, after the platform adapter: ``inputs`` (name -> path),
    ``model_dir``, ``output_dir``, ``checkpoint_dir``, ``hyperparameters``, ``hosts`` and
    ``node_rank``. Raises ``CompatError`` when a path cannot be made.
    """
    try:
        _write_config(config, os.path.join(root, "input", "config"))
        for name, path in (config.get("inputs") or {}).items():
            _channel(os.path.join(root, "input", "data", name), path)
        _link(os.path.join(root, "model"), config["model_dir"])
        _link(os.path.join(root, "output", "data"), config["output_dir"])
        _link(os.path.join(root, "checkpoints"), config["checkpoint_dir"])
    except OSError as e:
        where = e.filename or root
        raise CompatError(
            "compat: sagemaker cannot lay out %s (%s): the image must run as root, or "
            "have %s writable by its user" % (where, e.strerror or e, root)
        ) from None


def _write_config(config: Mapping[str, Any], folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    hosts = list(config.get("hosts") or hosts_for(int(config.get("num_nodes") or 1)))
    rank = int(config.get("node_rank") or 0)
    files = {
        "hyperparameters.json": plain_hyperparameters(config.get("hyperparameters") or {}),
        "resourceconfig.json": {"current_host": hosts[rank], "hosts": hosts},
        # File mode: the channel's files are there before the script starts, as they are.
        "inputdataconfig.json": {
            name: {
                "TrainingInputMode": "File",
                "S3DistributionType": "FullyReplicated",
                "RecordWrapperType": "None",
            }
            for name in config.get("inputs") or {}
        },
    }
    for name, data in files.items():
        path = os.path.join(folder, name)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(path + ".tmp", path)


def _channel(place: str, path: str) -> None:
    """A channel is a folder on SageMaker: a folder input is linked, a single file gets a
    folder holding a link to it under its own name (as File mode downloads one object)."""
    if os.path.isdir(path):
        _link(place, path)
        return
    if os.path.islink(place):
        os.unlink(place)
    os.makedirs(place, exist_ok=True)
    _link(os.path.join(place, os.path.basename(path)), path)


def _link(place: str, target: str) -> None:
    """``place`` -> ``target``, replacing a link or an empty folder already there (a second
    run in the same container, or the image's own empty ``/opt/ml/model``)."""
    if os.path.abspath(place) == os.path.abspath(target):
        return
    os.makedirs(os.path.dirname(place), exist_ok=True)
    _clear(place)
    os.symlink(target, place)


def _clear(place: str) -> None:
    if os.path.islink(place) or os.path.isfile(place):
        os.unlink(place)
    elif os.path.isdir(place):
        if os.listdir(place):
            raise CompatError(
                "compat: sagemaker: %s already holds files (from the image?); mlx links it "
                "to the job's own folder, so it must be empty or absent" % place
            )
        os.rmdir(place)
