"""The in-job contract: the environment every training script sees, on every platform.

``job_environment`` is a pure function of the runtime config and the platform's own
environment, so it is tested directly and reused by every provider. mlx's names are always
set; the SageMaker and Vertex names are set only where the platform has not set them, so a
script written for either platform runs unchanged everywhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any


def input_env_name(name: str) -> str:
    """``train-data`` -> ``TRAIN_DATA`` (the suffix of ``MLX_INPUT_*`` and ``SM_CHANNEL_*``)."""
    return name.upper().replace("-", "_").replace(".", "_")


def hosts_for(num_nodes: int) -> list[str]:
    """SageMaker's host names, used on every platform so ``SM_HOSTS`` looks the same."""
    return ["algo-%d" % (rank + 1) for rank in range(num_nodes)]


# torchrun's default rendezvous port
# (https://pytorch.org/docs/stable/elastic/run.html: --master-port, default 29500).
DEFAULT_MASTER_PORT = 29500


def distributed_environment(config: Mapping[str, Any], hosts: list[str]) -> dict[str, str]:
    """torch.distributed's ``env://`` variables for one process per node, as local sets
    them: the first host is the master. A platform adapter may name the master
    (``master_addr``, ``master_port``: Vertex's ``CLUSTER_SPEC``); the platform's own values
    (Azure's PyTorch distribution, one process per GPU) always win, key by key.
    (https://pytorch.org/docs/stable/distributed.html#environment-variable-initialization)
    """
    num_nodes = int(config.get("num_nodes") or 1)
    rank = int(config.get("node_rank") or 0)
    return {
        "MASTER_ADDR": str(config.get("master_addr") or hosts[0]),
        "MASTER_PORT": str(config.get("master_port") or DEFAULT_MASTER_PORT),
        "WORLD_SIZE": str(num_nodes),
        "RANK": str(rank),
        "NODE_RANK": str(rank),
        "GROUP_RANK": str(rank),
        "LOCAL_RANK": "0",
        "LOCAL_WORLD_SIZE": "1",
    }


def job_environment(config: Mapping[str, Any], platform_env: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to the job's environment.

    Args:
        config: the runtime config (``inputs``, ``model_dir``, ``checkpoint_dir``,
            ``output_dir``, ``job_id``, ``num_nodes``, ``node_rank``, ``hyperparameters``,
            ``num_gpus``).
        platform_env: the environment the platform started the job with.
    """
    num_nodes = int(config.get("num_nodes") or 1)
    rank = int(config.get("node_rank") or 0)
    hosts = config.get("hosts") or hosts_for(num_nodes)
    model_dir = config["model_dir"]
    checkpoint_dir = config["checkpoint_dir"]
    output_dir = config["output_dir"]
    inputs = config.get("inputs") or {}
    # Where `mlx tensorboard` finds the event files: <output>/tensorboard, unless the
    # platform uploads another folder while the job runs (SageMaker's
    # TensorBoardOutputConfig.LocalPath: ``tensorboard_dir``).
    tensorboard = config.get("tensorboard_dir") or os.path.join(output_dir, "tensorboard")

    env = {
        "MLX_JOB_ID": str(config.get("job_id", "")),
        "MLX_PROVIDER": str(config.get("provider") or ""),
        "MLX_MODEL_DIR": model_dir,
        "MLX_CHECKPOINT_DIR": checkpoint_dir,
        "MLX_OUTPUT_DIR": output_dir,
        "MLX_TENSORBOARD_DIR": tensorboard,
        "MLX_NUM_NODES": str(num_nodes),
        "MLX_NODE_RANK": str(rank),
    }
    for name, path in inputs.items():
        env["MLX_INPUT_" + input_env_name(name)] = path

    compatible = {
        "SM_MODEL_DIR": model_dir,
        "SM_OUTPUT_DATA_DIR": output_dir,
        "SM_CHECKPOINT_DIR": checkpoint_dir,
        "SM_CHANNELS": json.dumps(sorted(inputs)),
        "SM_HPS": json.dumps(config.get("hyperparameters") or {}),
        "SM_HOSTS": json.dumps(hosts),
        "SM_CURRENT_HOST": hosts[rank] if rank < len(hosts) else "algo-%d" % (rank + 1),
        "SM_NUM_GPUS": str(int(config.get("num_gpus") or 0)),
        "AIP_MODEL_DIR": model_dir,
        "AIP_CHECKPOINT_DIR": checkpoint_dir,
        "AIP_TENSORBOARD_LOG_DIR": tensorboard,
    }
    for name, path in inputs.items():
        compatible["SM_CHANNEL_" + input_env_name(name)] = path
    compatible.update(distributed_environment(config, hosts))
    for key, value in compatible.items():
        if key not in platform_env:
            env[key] = value
    # Unbuffered output so logs arrive as they are printed, not a minute later in a block.
    if "PYTHONUNBUFFERED" not in platform_env:
        env["PYTHONUNBUFFERED"] = "1"
    return env
