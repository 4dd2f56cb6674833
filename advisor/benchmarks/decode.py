"""Decode: one new token for each of a batch of sequences against a KV cache of a given
context, on the small GPT; output tokens per second against batch (the memory-bound
regime a serving engine batches its way out of)."""

from __future__ import annotations

from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.prefill import shape_for
from advisor.benchmarks.results import GenerateRow

NAME = "decode"


def cases(ctx: Context, seq_len: int) -> list[tuple[int, int]]:
    """(batch, context) pairs."""
    if ctx.tiny:
        return [(1, 8), (4, 8)]
    ctx_len = seq_len // 4
    return [(b, ctx_len) for b in (1, 4, 16)]


def run(ctx: Context) -> Outcome:
    import torch

    from advisor.benchmarks.generate import decode_step, prefill
    from advisor.benchmarks.gpt import GPT, param_count
    from advisor.benchmarks.training import autocast_supported

    if ctx.device == "mps":
        raise Skip("decode is measured on CPU and CUDA")
    out = Outcome()
    shape = shape_for(ctx)
    for precision in ("fp32", "bf16"):
        if precision == "bf16" and not autocast_supported(ctx.device, "bf16-autocast"):
            out.notes.append(f"bf16: not supported on {ctx.device}")
            continue
        dtype = torch.float32 if precision == "fp32" else torch.bfloat16
        model = GPT(shape).to(ctx.device, dtype).train(False)  # inference mode for dropout-free GPT
        for batch, n in cases(ctx, shape.seq_len):
            g = torch.Generator().manual_seed(0)
            prompt = torch.randint(0, shape.vocab, (batch, n), generator=g).to(ctx.device)
            _, caches = prefill(model, prompt)
            tok = prompt[:, -1:]
            stats = ctx.measure(lambda m=model, t=tok, c=caches, p=n: decode_step(m, t, c, p))
            out.rows.append(
                GenerateRow(
                    phase="decode", device=ctx.device, precision=precision, model=shape,
                    params=param_count(model), batch=batch, prompt_len=n, context=n,
                    tokens=batch, time=stats, tokens_per_s=batch / stats.median_s,
                )
            )  # fmt: skip
    return out
