"""AdamW optimizer step as achieved memory bandwidth.

A step over P fp32 parameters reads the parameter, its gradient and the two
moments and writes the parameter and both moments back: 7·4·P bytes (the
memory-bound optimizer step of Rajbhandari et al. 2020, §3; the scalar step
counters are not counted). Implementations: the per-tensor for-loop, the
multi-tensor `foreach` kernels, and `fused` where torch has it for the device;
`default_impl` marks what `torch.optim.AdamW(params)` picks on its own.
"""

from __future__ import annotations

import torch

from benchmarks.harness import Context, Outcome, Skip
from benchmarks.results import OptimizerRow

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


def tensor_sizes(total: int, tensors: int) -> list[int]:
    """Split `total` parameters into `tensors` tensors like a model's (a few large, some small)."""
    weights = [2.0 if i % 4 == 0 else 1.0 for i in range(tensors)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    sizes[-1] += total - sum(sizes)
    return sizes


def run(ctx: Context) -> Outcome:
    out = Outcome()
    gpu = ctx.device == "cuda"
    totals = ctx.size(
        full=[2**22, 2**24, 2**26] if gpu else [2**20, 2**22, 2**24],
        quick=[2**24, 2**26] if gpu else [2**20, 2**22],
        tiny=[4096],
    )
    tensors = ctx.size(full=32, quick=16, tiny=4)
    for total in totals:
        sizes = tensor_sizes(total, tensors)
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
