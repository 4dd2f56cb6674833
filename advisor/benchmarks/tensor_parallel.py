"""Tensor-parallel training with DTensor (torch.distributed.tensor.parallel).

Megatron-style (Shoeybi et al. 2019, §3): in every block the QKV and MLP-up
projections are split by columns and the attention-output and MLP-down
projections by rows, so each block half ends in one all-reduce; each process
holds a 1/t share of the heads. The fused QKV weight is first reordered so
that each column shard holds whole heads of Q, K and V. Embeddings, norms and
the output layer stay replicated. Collectives run over gloo on CPU tensors.
"""

from __future__ import annotations

import torch
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor.parallel import (
    ColwiseParallel,
    RowwiseParallel,
    parallelize_module,
)

from advisor.benchmarks.dist import DistEnv, small_gpt_shape, train_row
from advisor.benchmarks.gpt import GPT, batch
from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import GPTShape
from advisor.benchmarks.training import TrainStep

NAME = "tensor_parallel"
PLAN = {
    "attn.c_attn": ColwiseParallel(),
    "attn.c_proj": RowwiseParallel(),
    "mlp.c_fc": ColwiseParallel(),
    "mlp.c_proj": RowwiseParallel(),
}


def qkv_order(hidden: int, t: int) -> torch.Tensor:
    """Row order of the fused [Q; K; V] weight that puts Q_r, K_r, V_r in shard r."""
    w = hidden // t
    idx = [part * hidden + r * w + i for r in range(t) for part in range(3) for i in range(w)]
    return torch.tensor(idx)


def shape_for(ctx: Context) -> GPTShape:
    return small_gpt_shape(ctx, "gpt-tp")  # type: ignore[no-any-return]


def run_dist(ctx: Context, env: DistEnv) -> Outcome:
    if env.world < 2:
        raise Skip("needs at least 2 processes")
    shape = shape_for(ctx)
    if shape.heads % env.world:
        raise Skip(f"{shape.heads} heads do not split over {env.world} processes")
    mesh = init_device_mesh("cpu", (env.world,))
    torch.manual_seed(0)  # the same replicated weights on every rank
    model = GPT(shape)
    order = qkv_order(shape.hidden, env.world)
    with torch.no_grad():
        for block in model.blocks:
            block.attn.c_attn.weight.copy_(block.attn.c_attn.weight[order])
            block.attn.c_attn.bias.copy_(block.attn.c_attn.bias[order])
            parallelize_module(block, mesh, PLAN)
    x, y = batch(shape, "cpu")
    step = TrainStep(model, x, y, "fp32", "cpu")
    stats = ctx.measure(step, max_seconds=None, inner=1, min_repeats=ctx.repeats)
    tokens = shape.batch * shape.seq_len
    return Outcome(
        rows=[
            train_row(
                "tensor_parallel",
                "gloo",
                env.world,
                shape,
                tokens,
                stats,
                step.loss(),
                detail=f"Megatron column/row split of attention and MLP, t={env.world}",
            )
        ]
    )
