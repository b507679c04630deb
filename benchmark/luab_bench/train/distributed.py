"""Multi-process training under ``torchrun``: set-up from env vars, global-batch sharding, reductions.

``torchrun --nproc_per_node=N -m luab_bench train …`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. :func:`init_distributed`
reads them and joins the process group (NCCL on CUDA, gloo on CPU); without them it returns a
single-process :class:`DistContext`, so callers need no branch. Only rank 0 writes files or prints
(:attr:`DistContext.is_main`).

Sharding (our "distributed sampler"): every rank draws the *same* global permutation and the same
augmentation parameters for the whole global batch of ``recipe.batch_size`` samples, then keeps its
contiguous slice (:func:`shard_slice`). Global batch, sample order and per-sample augmentation are
therefore the same for any world size; DDP averages the gradients of the per-rank mean losses, which
equals the single-process gradient when every rank's slice has the same size (the global batch
divides by the world size) and, for masked point losses, the same number of Z targets. BatchNorm
statistics are per rank unless the model is converted to ``SyncBatchNorm`` (done on CUDA only:
PyTorch's SyncBatchNorm has no CPU kernel).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from luab_bench.errors import LuabError

if TYPE_CHECKING:
    import torch

_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclasses.dataclass(frozen=True)
class DistContext:
    """Who this process is in the job. ``world_size == 1`` means no process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on the process that writes files and prints (rank 0)."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when a process group with more than one process is active."""
        return self.world_size > 1


def env_world() -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) from torchrun's env vars, or None when they are not set."""
    if not all(k in os.environ for k in _ENV):
        return None
    try:
        rank, world, local = (int(os.environ[k]) for k in _ENV)
    except ValueError:
        raise LuabError(
            "RANK / WORLD_SIZE / LOCAL_RANK must be integers; start distributed runs with torchrun"
        ) from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise LuabError(f"inconsistent torchrun env: RANK={rank} WORLD_SIZE={world} LOCAL_RANK={local}")
    return rank, world, local


def init_distributed(device: str = "cpu") -> tuple[DistContext, str]:
    """Join the torchrun process group if there is one; return the context and this rank's device.

    ``device`` is the resolved device of the run (``cpu`` or ``cuda``/``cuda:N``). Under torchrun on
    CUDA each rank uses ``cuda:LOCAL_RANK`` and NCCL; on CPU it uses gloo. Calling it twice is safe.
    """
    import torch
    import torch.distributed as dist

    world = env_world()
    if world is None or world[1] == 1:
        return DistContext(), device
    rank, world_size, local_rank = world
    on_cuda = device.startswith("cuda")
    if on_cuda:
        if local_rank >= torch.cuda.device_count():
            raise LuabError(
                f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} CUDA device(s) are visible; "
                "use --nproc_per_node <= the number of GPUs"
            )
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    backend = "nccl" if on_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistContext(rank, world_size, local_rank, backend), device


def shutdown_distributed(ctx: DistContext) -> None:
    """Leave the process group (no-op for a single process)."""
    import torch.distributed as dist

    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def shard_slice(global_batch: int, ctx: DistContext) -> slice:
    """This rank's contiguous slice of a global batch (sizes differ by at most one)."""
    base, extra = divmod(global_batch, ctx.world_size)
    start = ctx.rank * base + min(ctx.rank, extra)
    return slice(start, start + base + (1 if ctx.rank < extra else 0))


def all_reduce_sum(
    values: dict[str, float], ctx: DistContext, device: str | torch.device
) -> dict[str, float]:
    """Sum a dict of floats over ranks (float64, so counts stay exact); identity for one process."""
    if not ctx.enabled:
        return dict(values)
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    dev = device if ctx.backend == "nccl" else "cpu"
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=dev)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return {k: float(v) for k, v in zip(keys, t.tolist(), strict=True)}


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op for one process)."""
    if ctx.enabled:
        import torch.distributed as dist

        dist.barrier()
