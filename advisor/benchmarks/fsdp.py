"""Fully sharded data parallel training with FSDP2 (`torch.distributed.fsdp.fully_shard`).

Each block is its own FSDP unit and the root holds the embeddings and head:
parameters, gradients and AdamW states are sharded over the processes (ZeRO-3,
Rajbhandari et al. 2020), a unit's parameters are all-gathered before its
forward and backward, and its gradients reduce-scattered after backward.
Every process trains on its own micro-batch. Collectives run over gloo on CPU
tensors.
"""

from __future__ import annotations

import torch
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from advisor.benchmarks.dist import DistEnv, small_gpt_shape, train_row
from advisor.benchmarks.gpt import GPT, batch
from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import GPTShape
from advisor.benchmarks.training import TrainStep

NAME = "fsdp"


def shape_for(ctx: Context) -> GPTShape:
    return small_gpt_shape(ctx, "gpt-fsdp")  # type: ignore[no-any-return]


def run_dist(ctx: Context, env: DistEnv) -> Outcome:
    if env.world < 2:
        raise Skip("needs at least 2 processes")
    shape = shape_for(ctx)
    mesh = init_device_mesh("cpu", (env.world,))
    torch.manual_seed(0)
    model = GPT(shape)
    for block in model.blocks:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    x, y = batch(shape, "cpu", seed=env.rank)
    step = TrainStep(model, x, y, "fp32", "cpu")
    stats = ctx.measure(step, max_seconds=None, inner=1, min_repeats=ctx.repeats)
    tokens = env.world * shape.batch * shape.seq_len
    return Outcome(
        rows=[
            train_row(
                "fsdp2",
                "gloo",
                env.world,
                shape,
                tokens,
                stats,
                step.loss(),
                detail="fully_shard per block and at the root (ZeRO-3)",
            )
        ]
    )
