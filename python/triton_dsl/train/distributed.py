"""Multi-process data-parallel training: launcher detection, process group, reductions.

Both `torchrun` and `python -m torch.distributed.launch` start one process per device and
describe the job through environment variables (`WORLD_SIZE`, `RANK`, `LOCAL_RANK`,
`MASTER_ADDR`, `MASTER_PORT`); the older launcher also passes `--local-rank=N`, which the
command line accepts and hands in here. A job is distributed when such a launcher started
it with more than one process, or when `--distributed` asks for it (then a missing launcher
is a one-line error). NCCL is used on GPUs, gloo on the CPU. Only rank 0 prints and writes
files; metrics are summed across ranks so every rank reports the same numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from triton_dsl.errors import UserError

_LAUNCHER_VARIABLES = ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job; a single-process job is rank 0 of 1."""

    enabled: bool = False
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_launcher() -> bool:
    return all(name in os.environ for name in _LAUNCHER_VARIABLES)


def init_distributed(requested: bool, *, use_gpu: bool, local_rank_arg: int | None = None
                     ) -> DistContext:
    """Joins the process group when launched for several processes (or when requested)."""
    if not launched_by_launcher():
        if requested:
            raise UserError("`--distributed` needs a launcher: run it with `torchrun "
                            "--nproc_per_node=N model.py ...` or `python -m "
                            "torch.distributed.launch --nproc_per_node=N model.py ...`")
        return DistContext()
    world_size = int(os.environ["WORLD_SIZE"])
    if world_size <= 1 and not requested:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", local_rank_arg if local_rank_arg is not None
                                    else 0))
    backend = "nccl" if use_gpu else "gloo"
    if use_gpu:
        if local_rank >= torch.cuda.device_count():
            raise UserError(f"local rank {local_rank} has no GPU: only "
                            f"{torch.cuda.device_count()} visible")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://")
    return DistContext(True, rank, world_size, local_rank, backend)


def all_reduce_sum(tensor: torch.Tensor, context: DistContext) -> torch.Tensor:
    """Sums `tensor` over ranks in place (a no-op in a single process)."""
    if context.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_flag(value: bool, context: DistContext, device: torch.device) -> bool:
    """Rank 0's value of `value` on every rank (used so all ranks stop together)."""
    if not context.enabled:
        return value
    flag = torch.tensor([1 if value else 0], dtype=torch.int32, device=device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def any_rank(value: bool, context: DistContext, device: torch.device) -> bool:
    """True on every rank when `value` is true on at least one."""
    if not context.enabled:
        return value
    flag = torch.tensor([1 if value else 0], dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def barrier(context: DistContext) -> None:
    if context.enabled:
        dist.barrier()


def shutdown(context: DistContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
