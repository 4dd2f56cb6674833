"""What a distributed benchmark gets inside a torchrun worker, and helpers they share.

Benchmarks run on every rank with identical arguments and must take the same
collective steps on every rank: timing uses fixed repeats (no time budget),
so no rank stops early. Rank 0's measurements are the ones recorded.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world: int
    local_rank: int
    device: str  # "cpu" or "cuda:N": where this rank's tensors live
    backend: str  # the backend that carries this device's collectives

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


def init(want_cuda: bool, timeout_s: float = DEFAULT_TIMEOUT_S) -> DistEnv:
    """Join the process group torchrun set up (env://), with a short timeout.

    NCCL needs one GPU per process; with fewer GPUs than local processes the
    collectives run on CPU tensors over gloo and say so in their rows.
    """
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    cuda = want_cuda and torch.cuda.is_available() and torch.cuda.device_count() >= local_world
    timeout = dt.timedelta(seconds=timeout_s)
    if cuda:
        torch.cuda.set_device(local)
        dist.init_process_group("cpu:gloo,cuda:nccl", timeout=timeout)
        return DistEnv(rank, world, local, f"cuda:{local}", "nccl")
    dist.init_process_group("gloo", timeout=timeout)
    return DistEnv(rank, world, local, "cpu", "gloo")


def broadcast_float(value: float, src: int, device: str = "cpu") -> float:
    """A float known on rank `src`, on every rank."""
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, src=src)
    return float(t.item())


def small_gpt_shape(ctx: Any, name: str) -> Any:
    """The small GPT the CPU data- and model-parallel benchmarks train, by suite size."""
    from advisor.benchmarks.results import GPTShape

    return ctx.size(
        full=GPTShape(name=name, layers=4, hidden=256, heads=4, vocab=4096, seq_len=128, batch=4),
        quick=GPTShape(name=name, layers=2, hidden=128, heads=4, vocab=2048, seq_len=128, batch=4),
        tiny=GPTShape(name="gpt-tiny", layers=1, hidden=32, heads=2, vocab=64, seq_len=16),
    )


def train_row(
    strategy: str,
    env_backend: str,
    world: int,
    shape: Any,
    tokens: int,
    stats: Any,
    loss: float,
    detail: str | None = None,
    scaling_efficiency: float | None = None,
) -> Any:
    """The `DistTrainRow` of one distributed training measurement (rank 0's): tokens per
    step over all processes, and the rate at the median step time."""
    from advisor.benchmarks.results import DistTrainRow

    return DistTrainRow(
        strategy=strategy,  # type: ignore[arg-type]
        backend=env_backend,
        world_size=world,
        model=shape,
        tokens=tokens,
        time=stats,
        tokens_per_s=tokens / stats.median_s,
        scaling_efficiency=scaling_efficiency,
        loss=loss,
        detail=detail,
    )
