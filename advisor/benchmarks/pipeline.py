"""Pipeline-parallel training with torch.distributed.pipelining, one stage per process.

The small GPT's blocks are split evenly over the stages; the first stage also
holds the embeddings, the last the final norm, the output layer and the loss
(the tied output weight becomes the last stage's own copy, as Megatron keeps a
copy on the last stage). Each step runs the 1F1B schedule (Narayanan et al.
2021, §2.2) over `MICROBATCHES` micro-batches, then AdamW on each stage.
Collectives run over gloo on CPU tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributed.pipelining import PipelineStage, Schedule1F1B

from advisor.benchmarks.dist import DistEnv, broadcast_float, train_row
from advisor.benchmarks.gpt import GPT, batch
from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import GPTShape

NAME = "pipeline"
MICROBATCHES = 4


class Stage(nn.Module):
    """Blocks [lo, hi) of a GPT, with the embedding on the first stage and the head on the last."""

    def __init__(self, gpt: GPT, lo: int, hi: int, first: bool, last: bool) -> None:
        super().__init__()
        self.embed = gpt.embed if first else None
        self.blocks = nn.ModuleList(gpt.blocks[lo:hi])
        self.head = gpt.head if last else None
        if last and not first:
            self.head.lm_head.weight = nn.Parameter(gpt.embed.wte.weight.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x) if self.head is not None else x


def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))


def shape_for(ctx: Context, world: int) -> GPTShape:
    layers = world * ctx.size(full=2, quick=1, tiny=1)
    return ctx.size(
        full=GPTShape(
            name="gpt-pp",
            layers=layers,
            hidden=256,
            heads=4,
            vocab=4096,
            seq_len=128,
            batch=MICROBATCHES * 2,
        ),
        quick=GPTShape(
            name="gpt-pp",
            layers=layers,
            hidden=128,
            heads=4,
            vocab=2048,
            seq_len=128,
            batch=MICROBATCHES,
        ),
        tiny=GPTShape(
            name="gpt-tiny",
            layers=layers,
            hidden=32,
            heads=2,
            vocab=64,
            seq_len=16,
            batch=MICROBATCHES,
        ),
    )


def run_dist(ctx: Context, env: DistEnv) -> Outcome:
    if env.world < 2:
        raise Skip("needs at least 2 processes")
    out = Outcome()
    shape = shape_for(ctx, env.world)
    per = shape.layers // env.world
    torch.manual_seed(0)
    first, last = env.rank == 0, env.rank == env.world - 1
    module = Stage(GPT(shape), env.rank * per, (env.rank + 1) * per, first, last)
    stage = PipelineStage(module, env.rank, env.world, torch.device("cpu"))
    schedule = Schedule1F1B(stage, n_microbatches=MICROBATCHES, loss_fn=loss_fn)
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
    x, y = batch(shape, "cpu")
    losses: list[torch.Tensor] = []

    def step() -> None:
        losses.clear()
        if first:
            schedule.step(x)
        elif last:
            schedule.step(target=y, losses=losses)
        else:
            schedule.step()
        opt.step()
        opt.zero_grad(set_to_none=True)

    stats = ctx.measure(step, max_seconds=None, inner=1, min_repeats=ctx.repeats)
    mean_loss = float(torch.stack(losses).mean()) if last else 0.0
    loss = broadcast_float(mean_loss, src=env.world - 1)
    tokens = shape.batch * shape.seq_len
    out.rows.append(
        train_row(
            "pipeline",
            "gloo",
            env.world,
            shape,
            tokens,
            stats,
            loss,
            detail=f"1F1B, {MICROBATCHES} micro-batches, {per} block(s) per stage",
        )
    )
    return out
