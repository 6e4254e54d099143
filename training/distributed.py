"""One process or one rank of several (torchrun sets WORLD_SIZE, RANK, LOCAL_RANK): which rank this is, on
which device, and the process group around it (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)


@dataclass
class Distributed:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def log(self, message: str, level: int = logging.INFO) -> None:
        """Log on rank 0 only: one copy of each line, however many ranks run."""
        if self.is_main:
            logger.log(level, message)

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def finish(self) -> None:
        """Wait for every rank, then leave the process group."""
        if self.world_size > 1:
            dist.barrier()
            dist.destroy_process_group()

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as the training step calls it: DistributedDataParallel across ranks, else itself."""
        if self.world_size == 1:
            return model
        device_ids = [self.local_rank] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def init_distributed(num_gpus: int) -> Distributed:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if world_size > 1:
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    ctx = Distributed(rank, world_size, local_rank, device)
    visible = torch.cuda.device_count() if cuda else 0
    if world_size == 1 and visible > 1:
        ctx.log(
            f"note: {visible} GPUs present but one process runs; use all of them with "
            "`torchrun --nproc_per_node N training/cli.py ...` (SageMaker: distribution={'torch_distributed': {'enabled': True}})"
        )
    elif num_gpus > visible:  # --num-gpus (SM_NUM_GPUS) says more than torch can use: say what runs instead
        ctx.log(
            f"warning: --num-gpus {num_gpus}, but torch sees {visible or 'no'} GPU{'' if visible == 1 else 's'} "
            f"here: training runs on {device}",
            logging.WARNING,
        )
    return ctx
