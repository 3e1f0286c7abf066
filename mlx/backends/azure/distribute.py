"""The processes Azure ML starts for a command job, and the variables each one gets.

From the distributed GPU training guide
(https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu):

- no ``distribution``: the command runs once on each of ``resources.instance_count`` nodes;
- ``pytorch``: ``process_count_per_instance`` processes on each node; "Azure Machine
  Learning sets the MASTER_ADDR, MASTER_PORT, WORLD_SIZE, and NODE_RANK environment variables
  on each node, and sets the process-level RANK and LOCAL_RANK environment variables" (PyTorch
  section), so ``torch.distributed.init_process_group(init_method="env://")`` works as is;
- ``mpi``: Azure ML "constructs the full MPI launch command (mpirun) behind the scenes" and
  starts ``process_count_per_instance`` processes per node, which see Open MPI's variables
  ``OMPI_COMM_WORLD_RANK``, ``OMPI_COMM_WORLD_SIZE``, ``OMPI_COMM_WORLD_LOCAL_RANK``,
  ``OMPI_COMM_WORLD_LOCAL_SIZE`` and ``AZ_BATCH_MASTER_NODE`` (``<address>:<port>`` of the
  primary node) ("Environment variables from Open MPI").

Every node here is this machine: the master's address is the loopback, and its port is a
free one (Azure picks a port of the master node).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

MASTER_ADDR = "127.0.0.1"  # every "node" shares this machine's network


@dataclass(frozen=True)
class Place:
    """One process: its node, its global rank, its variables."""

    node: int
    rank: int
    env: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((MASTER_ADDR, 0))
        port: int = sock.getsockname()[1]
        return port


def processes(job: dict[str, Any]) -> list[Place]:
    """The processes of ``job`` in rank order."""
    nodes = int((job.get("resources") or {}).get("instance_count") or 1)
    distribution = job.get("distribution") or {}
    kind = str(distribution.get("type") or "").lower()
    per_node = int(distribution.get("process_count_per_instance") or 1) if kind else 1
    world = nodes * per_node
    port = str(free_port())
    places = []
    for node in range(nodes):
        for local in range(per_node):
            rank = node * per_node + local
            env: dict[str, str] = {}
            if kind == "pytorch":
                env = {
                    "MASTER_ADDR": MASTER_ADDR,
                    "MASTER_PORT": port,
                    "WORLD_SIZE": str(world),
                    "NODE_RANK": str(node),
                    "RANK": str(rank),
                    "LOCAL_RANK": str(local),
                }
            elif kind == "mpi":
                env = {
                    "OMPI_COMM_WORLD_RANK": str(rank),
                    "OMPI_COMM_WORLD_SIZE": str(world),
                    "OMPI_COMM_WORLD_LOCAL_RANK": str(local),
                    "OMPI_COMM_WORLD_LOCAL_SIZE": str(per_node),
                    "AZ_BATCH_MASTER_NODE": f"{MASTER_ADDR}:{port}",
                }
            places.append(Place(node, rank, env))
    return places
