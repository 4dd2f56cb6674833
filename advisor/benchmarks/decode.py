"""Decode: one new token for each of a batch of sequences against a KV cache of a given
context, on the small GPT; output tokens per second against batch (the memory-bound
regime a serving engine batches its way out of)."""

from __future__ import annotations

from advisor.benchmarks.harness import Context, Outcome
from advisor.benchmarks.prefill import models, prompts, shape_for
from advisor.benchmarks.results import GenerateRow

NAME = "decode"


def cases(ctx: Context, seq_len: int) -> list[tuple[int, int]]:
    """(batch, context) pairs."""
    if ctx.tiny:
        return [(1, 8), (4, 8)]
    ctx_len = seq_len // 4
    return [(b, ctx_len) for b in (1, 4, 16)]


def run(ctx: Context) -> Outcome:
    from advisor.benchmarks.generate import decode_step, prefill
    from advisor.benchmarks.gpt import param_count

    out = Outcome()
    shape = shape_for(ctx)
    for precision, model in models(ctx, shape, out, NAME):
        for batch, n in cases(ctx, shape.seq_len):
            prompt = prompts(ctx, shape, batch, n)
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
