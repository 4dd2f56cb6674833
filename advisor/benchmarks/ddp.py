"""Data-parallel training (DistributedDataParallel) from 1 to N processes.

Weak scaling: every process trains the same small GPT on its own micro-batch,
so tokens per step grow with the process count. For k = 1..N the first k ranks
form a process group and train under DDP (gradients all-reduced in buckets,
overlapped with backward, Li et al. 2020, "PyTorch Distributed", VLDB); the
others wait. Scaling efficiency = tokens/s at k / (k x tokens/s at 1).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from advisor.benchmarks.dist import DistEnv, small_gpt_shape, train_row
from advisor.benchmarks.gpt import GPT, batch
from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import GPTShape
from advisor.benchmarks.training import TrainStep

NAME = "ddp"


def shape_for(ctx: Context, cuda: bool) -> GPTShape:
    if cuda:
        return GPTShape(
            name="gpt-ddp", layers=6, hidden=768, heads=12, vocab=32768, seq_len=512, batch=8
        )
    return small_gpt_shape(ctx, "gpt-ddp")  # type: ignore[no-any-return]


def process_counts(world: int, quick: bool) -> list[int]:
    if quick:
        return sorted({1, world})
    counts, k = [], 1
    while k < world:
        counts.append(k)
        k *= 2
    return [*counts, world]


def run_dist(ctx: Context, env: DistEnv) -> Outcome:
    if env.world < 2:
        raise Skip("needs at least 2 processes")
    out = Outcome()
    shape = shape_for(ctx, env.is_cuda)
    rate_1: float | None = None
    for k in process_counts(env.world, ctx.quick):
        group = dist.new_group(ranks=list(range(k)))
        stats = None
        loss = 0.0
        if env.rank < k:
            torch.manual_seed(0)
            model = GPT(shape).to(env.device)
            ids = [env.local_rank] if env.is_cuda else None
            ddp = DDP(model, device_ids=ids, process_group=group)
            x, y = batch(shape, env.device, seed=env.rank)
            step = TrainStep(ddp, x, y, "fp32", env.device.split(":")[0])
            stats = ctx.measure(step, max_seconds=None, inner=1, min_repeats=ctx.repeats)
            loss = step.loss()
            del ddp, model, step
        dist.barrier()
        if env.rank == 0:
            assert stats is not None
            tokens = k * shape.batch * shape.seq_len
            rate = tokens / stats.median_s
            rate_1 = rate_1 or rate
            out.rows.append(
                train_row(
                    "ddp",
                    env.backend,
                    k,
                    shape,
                    tokens,
                    stats,
                    loss,
                    scaling_efficiency=rate / (k * rate_1),
                )
            )
    return out
