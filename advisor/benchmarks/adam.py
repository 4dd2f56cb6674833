"""AdamW optimizer step as achieved memory bandwidth.

A step over P fp32 parameters reads the parameter, its gradient and the two
moments and writes the parameter and both moments back: 7·4·P bytes (the
memory-bound optimizer step of Rajbhandari et al. 2020, §3; the scalar step
counters are not counted). The parameters are those of small GPTs
(advisor/benchmarks/gpt.py), so the tensor count and sizes, and with them the
per-tensor cost of the for-loop implementation, are a real model's;
they are other shapes than the ones `advisor validate` trains and differ in
tensor count and size, so that `advisor calibrate` can separate a fixed time
per tensor from the bandwidth.
Implementations: the per-tensor for-loop, the multi-tensor `foreach` kernels,
and `fused` where torch has it for the device; `default_impl` marks what
`torch.optim.AdamW(params)` picks on its own.
"""

from __future__ import annotations

import torch

from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import GPTShape, OptimizerRow

NAME = "adam"
BYTES_PER_PARAM = 7 * 4  # read p, g, m, v; write p, m, v (fp32)
IMPLS = {
    "for-loop": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
}


def adam_bytes(params: int) -> float:
    return float(BYTES_PER_PARAM * params)


def default_impl(params: list[torch.Tensor]) -> str:
    """The implementation torch chooses when neither `foreach` nor `fused` is given."""
    try:
        from torch.optim.optimizer import _default_to_fused_or_foreach

        fused, foreach = _default_to_fused_or_foreach(params, False, False)
    except (ImportError, TypeError):  # private API; fall back to its documented rule
        fused, foreach = False, params[0].is_cuda
    return "fused" if fused else ("foreach" if foreach else "for-loop")


def shapes(ctx: Context) -> list[GPTShape]:
    """Models whose parameter lists are stepped, smallest first."""

    def gpt(layers: int, hidden: int, vocab: int) -> GPTShape:
        return GPTShape(name=f"gpt-{layers}L-{hidden}", layers=layers, hidden=hidden,
                        heads=max(1, hidden // 64), vocab=vocab, seq_len=256)  # fmt: skip

    gpu = ctx.device == "cuda"
    return ctx.size(
        full=[gpt(5, 256, 4096), gpt(7, 512, 8192), gpt(10, 768, 50304)]
        if gpu
        else [gpt(1, 128, 1024), gpt(3, 192, 3072), gpt(5, 320, 6144), gpt(7, 448, 8192)],
        quick=[gpt(5, 256, 4096), gpt(10, 768, 50304)]
        if gpu
        else [gpt(3, 192, 3072), gpt(5, 320, 6144)],
        tiny=[gpt(1, 32, 64)],
    )


def parameter_shapes(shape: GPTShape) -> list[torch.Size]:
    from advisor.benchmarks.gpt import GPT

    with torch.device("meta"):
        return [p.shape for p in GPT(shape).parameters()]


def run(ctx: Context) -> Outcome:
    out = Outcome()
    for shape in shapes(ctx):
        sizes = parameter_shapes(shape)
        total = sum(s.numel() for s in sizes)
        for impl, flags in IMPLS.items():
            params = [torch.zeros(n, device=ctx.device).requires_grad_() for n in sizes]
            for p in params:
                p.grad = torch.randn_like(p)
            try:
                opt = torch.optim.AdamW(params, lr=1e-3, **flags)  # type: ignore[arg-type]
                opt.step()  # allocate the moments outside the timing
                stats = ctx.measure(opt.step)
            except (RuntimeError, ValueError) as e:
                out.notes.append(f"{impl}: not run ({str(e).splitlines()[0]})")
                continue
            nbytes = adam_bytes(total)
            out.rows.append(
                OptimizerRow(
                    optimizer="adamw",
                    impl=impl,  # type: ignore[arg-type]
                    default_impl=impl == default_impl(params),
                    params=total,
                    tensors=len(sizes),
                    bytes_moved=nbytes,
                    time=stats,
                    gbs=nbytes / stats.median_s / 1e9,
                )
            )
            del opt, params
    if not out.rows:
        raise Skip("no AdamW implementation ran")
    out.notes.append(
        "bytes per step: 7 x 4 bytes per fp32 parameter (read p, g, m, v; write p, m, v)"
    )
    return out
