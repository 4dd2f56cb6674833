"""A LoRA training step: frozen base weights, trainable low-rank adapters.

The small GPT (advisor/benchmarks/gpt.py) with adapters on the chosen targets
(advisor/benchmarks/lora_model.py: PEFT where installed, else plain torch), AdamW over
the adapters only; forward, backward, optimizer step and zero_grad, timed. Each
precision runs in a fresh process (advisor/benchmarks/train_step.py) so the peak memory
is that of this step alone.
"""

from __future__ import annotations

from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import GPTShape, LoraRequest, LoraStepRow, TrainRequest
from advisor.benchmarks.shapes import training_gpt_shape
from advisor.benchmarks.train_request import STEP_PRECISIONS
from advisor.benchmarks.train_step import run_in_subprocess

NAME = "lora"
TARGETS = ["q", "k", "v", "o", "up", "down"]


def shape_for(ctx: Context) -> GPTShape:
    shape = training_gpt_shape(ctx, "gpt-lora")
    if ctx.device == "cuda":
        return shape
    # The allocator benchmark's mid-size shape (not one validate trains): the slack of
    # a 2-layer toy (live tensors a third of the framework's own memory) was twice what
    # validate's larger shapes held.
    mid = GPTShape(name="gpt-lora", layers=5, hidden=320, heads=5, vocab=6144, seq_len=256, batch=6)
    return ctx.size(full=shape, quick=mid, tiny=shape)  # type: ignore[no-any-return]


def run(ctx: Context) -> Outcome:
    from advisor.benchmarks.training import autocast_supported  # torch: only when it runs

    if ctx.device == "mps":
        raise Skip("no peak-memory counter for MPS")
    out = Outcome()
    shape = shape_for(ctx)
    lora = LoraRequest(rank=2 if ctx.tiny else 8, alpha=16.0, targets=TARGETS, impl="auto")
    steps, warmup = (2, 1) if ctx.tiny else ((5, 2) if ctx.quick else (9, 3))
    for precision in STEP_PRECISIONS:
        if not autocast_supported(ctx.device, precision):
            out.notes.append(f"{precision}: not supported on {ctx.device}")
            continue
        req = TrainRequest(
            model=shape, precision=precision, device=ctx.device, steps=steps, warmup=warmup,
            threads=ctx.threads, lora=lora, live_peak=not ctx.tiny,
        )  # fmt: skip
        m = run_in_subprocess(req, timeout_s=600)
        out.rows.append(
            LoraStepRow(
                impl=m.lora_impl or "torch",
                precision=precision,  # type: ignore[arg-type]
                model=shape,
                rank=lora.rank,
                alpha=lora.alpha,
                targets=lora.targets,
                params=m.params,
                trainable_params=m.trainable_params or 0,
                tokens=m.tokens,
                time=m.time,
                tokens_per_s=m.tokens / m.time.median_s,
                peak_bytes=m.peak_bytes,
                peak_method=m.peak_method,
                allocated_bytes=m.peak_allocated_bytes,
                loss=m.loss_last,
            )
        )
    if out.rows and out.rows[0].impl == "peft":
        out.notes.append("PEFT adapts the fused c_attn as one matrix (not q, k, v apart)")
    elif out.rows:
        out.notes.append("plain torch LoRA (PEFT not installed)")
    return out
