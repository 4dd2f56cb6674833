"""Prefill: a batch of prompts through the small GPT in one forward pass (no backward),
filling the KV cache; tokens per second against prompt length."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import GenerateRow, GPTShape

NAME = "prefill"


def shape_for(ctx: Context) -> GPTShape:
    big = ctx.device == "cuda"
    return ctx.size(
        full=GPTShape(name="gpt-serve", layers=12 if big else 4, hidden=768 if big else 384,
                      heads=12 if big else 6, vocab=32768 if big else 4096, seq_len=1024),
        quick=GPTShape(name="gpt-serve", layers=6 if big else 2, hidden=512 if big else 256,
                       heads=8 if big else 4, vocab=8192 if big else 2048, seq_len=512),
        tiny=GPTShape(name="gpt-tiny", layers=1, hidden=32, heads=2, vocab=64, seq_len=16),
    )  # fmt: skip


def cases(ctx: Context, shape: GPTShape) -> list[tuple[int, int]]:
    """(batch, prompt length) pairs."""
    if ctx.tiny:
        return [(1, 8)]
    lens = [shape.seq_len // 8, shape.seq_len // 2]
    return [(1, n) for n in lens] + [(4, lens[0])]


def models(
    ctx: Context, shape: GPTShape, out: Outcome, name: str = NAME
) -> Iterator[tuple[str, Any]]:
    """(precision, model) for fp32 and, where the device supports it, bf16: the small GPT
    in inference mode; a precision the device lacks is noted in `out`."""
    import torch

    from advisor.benchmarks.gpt import GPT
    from advisor.benchmarks.training import autocast_supported

    if ctx.device == "mps":
        raise Skip(f"{name} is measured on CPU and CUDA")
    for precision in ("fp32", "bf16"):
        if precision == "bf16" and not autocast_supported(ctx.device, "bf16-autocast"):
            out.notes.append(f"bf16: not supported on {ctx.device}")
            continue
        dtype = torch.float32 if precision == "fp32" else torch.bfloat16
        yield precision, GPT(shape).to(ctx.device, dtype).train(False)  # dropout-free GPT


def prompts(ctx: Context, shape: GPTShape, batch: int, n: int) -> Any:
    """`batch` prompts of `n` random tokens (seeded: every run times the same input)."""
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randint(0, shape.vocab, (batch, n), generator=g).to(ctx.device)


def run(ctx: Context) -> Outcome:
    from advisor.benchmarks.generate import prefill
    from advisor.benchmarks.gpt import param_count

    out = Outcome()
    shape = shape_for(ctx)
    for precision, model in models(ctx, shape, out):
        for batch, n in cases(ctx, shape):
            prompt = prompts(ctx, shape, batch, n)
            stats = ctx.measure(lambda m=model, p=prompt: prefill(m, p))
            out.rows.append(
                GenerateRow(
                    phase="prefill", device=ctx.device, precision=precision, model=shape,
                    params=param_count(model), batch=batch, prompt_len=n, context=n,
                    tokens=batch * n, time=stats, tokens_per_s=batch * n / stats.median_s,
                )
            )  # fmt: skip
    return out
