"""Where this process stands in a training run: alone, or one rank of a DistributedDataParallel
group, and how it got there.

Three ways to start, the two last as Kubeflow Trainer's PyTorch runtime and PyTorchJob do:

- plain ``python -m lathe_pytorch``: one process, no process group;
- under ``torchrun`` (``torch.distributed.run``): it sets RANK, LOCAL_RANK, WORLD_SIZE,
  MASTER_ADDR and MASTER_PORT for each process it starts, and the group is joined through them
  (``init_method="env://"``);
- a pod given torchrun's own variables (``PET_NNODES``, ``PET_NPROC_PER_NODE``,
  ``PET_NODE_RANK``, ``PET_MASTER_ADDR``, ``PET_MASTER_PORT``: what Kubeflow Trainer sets, and
  Lathe's Indexed Job backend too) but started without torchrun: the program starts torchrun
  itself (``relaunch_under_torchrun``), which reads them as its arguments. A pod that has
  WORLD_SIZE > 1 and RANK but no PET_* (PyTorchJob's one process per pod) joins directly.

The backend is gloo on CPU and NCCL on GPUs (one GPU per local rank).
"""

import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Placement:
    """This process's rank among ``world_size``; ``local_rank`` on its node."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self):
        return self.world_size > 1

    @property
    def leader(self):
        """Rank 0: the one process that writes the run's files and artifact."""
        return self.rank == 0

    @property
    def node_leader(self):
        """Local rank 0: the one process of its pod that writes the pod's result."""
        return self.local_rank == 0


def _int(env, name, default):
    value = env.get(name, "")
    try:
        return int(value) if value != "" else default
    except ValueError as error:
        raise ValueError(f"{name}: must be an integer (got {value!r})") from error


def placement_of(env):
    """The placement the environment describes (RANK, LOCAL_RANK, WORLD_SIZE)."""
    world_size = _int(env, "WORLD_SIZE", 1)
    rank = _int(env, "RANK", 0)
    local_rank = _int(env, "LOCAL_RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"RANK {rank} is not within WORLD_SIZE {world_size}")
    return Placement(rank, local_rank, world_size)


def torchrun_needed(env):
    """True when the pod asks for torchrun (PET_NNODES x PET_NPROC_PER_NODE > 1) and this process
    was not started by it (torchrun sets LOCAL_RANK and TORCHELASTIC_RUN_ID in its children)."""
    if "LOCAL_RANK" in env or "TORCHELASTIC_RUN_ID" in env:
        return False
    nnodes = env.get("PET_NNODES", "")
    nproc = env.get("PET_NPROC_PER_NODE", "")
    if not nnodes and not nproc:
        return False
    # PET_NNODES may be a range (elastic "1:4"); its upper bound counts here.
    nodes = _int({"n": nnodes.split(":")[-1]}, "n", 1) if nnodes else 1
    per_node = 1 if nproc in ("", "auto", "cpu", "gpu") else _int(env, "PET_NPROC_PER_NODE", 1)
    return nodes * per_node > 1


def relaunch_under_torchrun(target):
    """Replaces this process with torchrun (``lathe_pytorch.torchrun``) starting ``target``
    (``["--module", "lathe_pytorch", *args]``, or a script and its arguments) once per process;
    torchrun takes --nnodes, --nproc-per-node, --node-rank, --master-addr and --master-port
    from the PET_* variables. Its children's output goes to this pod's log as is. The agent
    checks on its workers every second instead of five (PET_MONITOR_INTERVAL overrides), so a
    finished or failed group ends the pod without idling."""
    interval = [] if "PET_MONITOR_INTERVAL" in os.environ else ["--monitor_interval=1"]
    os.execv(sys.executable, [sys.executable, "-m", "lathe_pytorch.torchrun", *interval, *target])


def join_group(placement, use_gpu):
    """Initialises the default process group (env://) for a distributed placement; returns the
    torch device this rank computes on."""
    import datetime

    import torch
    import torch.distributed as dist

    device = torch.device(f"cuda:{placement.local_rank}") if use_gpu else torch.device("cpu")
    if use_gpu:
        torch.cuda.set_device(device)
    if placement.distributed:
        dist.init_process_group(
            backend="nccl" if use_gpu else "gloo",
            init_method="env://",
            rank=placement.rank,
            world_size=placement.world_size,
            timeout=datetime.timedelta(minutes=10),
        )
    return device


def leave_group(placement):
    import torch.distributed as dist

    if placement.distributed and dist.is_initialized():
        dist.destroy_process_group()


def use_gpu_for(env):
    """GPUs only when the pod was given some (LATHE_GPUS > 0) and CUDA sees them."""
    import torch

    return _int(env, "LATHE_GPUS", 0) > 0 and torch.cuda.is_available()
