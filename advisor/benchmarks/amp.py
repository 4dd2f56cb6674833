"""Mixed-precision training step against fp32, on the small GPT.

fp32; bf16 under `torch.autocast`; fp16 under `torch.autocast` with a
`torch.amp.GradScaler` (the PyTorch AMP recipe), each where the device runs it.
A step is forward, backward, AdamW step and zero_grad on one micro-batch
(advisor/benchmarks/training.py); throughput is tokens per second.
"""

from __future__ import annotations

import torch

from advisor.benchmarks.gpt import GPT, batch, param_count
from advisor.benchmarks.harness import Context, Outcome
from advisor.benchmarks.results import GPTShape, TrainStepRow
from advisor.benchmarks.shapes import training_gpt_shape
from advisor.benchmarks.training import PRECISIONS, TrainStep, autocast_supported

NAME = "amp"


def shape_for(ctx: Context) -> GPTShape:
    return training_gpt_shape(ctx, "gpt-amp")


def run(ctx: Context) -> Outcome:
    out = Outcome()
    shape = shape_for(ctx)
    tokens = shape.batch * shape.seq_len
    fp32_rate: float | None = None
    for precision in PRECISIONS:
        if not autocast_supported(ctx.device, precision):
            out.notes.append(f"{precision}: not supported on {ctx.device}")
            continue
        torch.manual_seed(0)
        model = GPT(shape).to(ctx.device)
        x, y = batch(shape, ctx.device)
        step = TrainStep(model, x, y, precision, ctx.device)
        stats = ctx.measure(step, warmup=max(ctx.warmup, 2), target_sample_s=0.0, inner=1)
        rate = tokens / stats.median_s
        if precision == "fp32":
            fp32_rate = rate
        out.rows.append(
            TrainStepRow(
                precision=precision,  # type: ignore[arg-type]
                grad_scaler=step.scaler is not None,
                model=shape,
                params=param_count(model),
                tokens=tokens,
                time=stats,
                tokens_per_s=rate,
                speedup_vs_fp32=rate / fp32_rate if fp32_rate else None,
                loss=step.loss(),
            )
        )
        del step, model
    return out
