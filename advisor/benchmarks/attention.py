"""Attention: a naive implementation against `scaled_dot_product_attention`.

FLOP convention (FlashAttention's benchmarks, Dao et al., flash-attention
advisor/benchmarks/benchmark_flash_attention.py): the forward pass is two matmuls over
the s x s scores, 4·b·a·s²·d FLOPs for b sequences, a heads, head width d;
causal attention is counted as half of that (the masked half is work a causal
kernel need not do). Backward is counted as 2x forward, the FLOPs the math
needs (advisor's model-FLOPs convention), so forward+backward is 3x forward;
kernels that recompute the scores in backward do more work than this credits.
The naive version materialises the s x s scores, masks, softmaxes and
multiplies by V; SDPA picks the fused kernel torch has for the device.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from advisor.benchmarks.harness import Context, Outcome
from advisor.benchmarks.results import AttentionRow

NAME = "attention"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def attention_flops(b: int, heads: int, s: int, d: int, causal: bool, backward: bool) -> float:
    """4·b·a·s²·d forward, halved when causal; x3 with backward (2x forward)."""
    fwd = 4.0 * b * heads * s * s * d * (0.5 if causal else 1.0)
    return fwd * (3.0 if backward else 1.0)


def naive(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    """softmax(Q·Kᵀ/√d + mask)·V with the s x s scores in memory."""
    s = q.shape[-2]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        mask = torch.ones(s, s, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


IMPLS: dict[str, Callable[..., torch.Tensor]] = {"naive": naive, "sdpa": sdpa}


def cases(ctx: Context) -> tuple[list[tuple[int, int, int, int]], list[str], list[bool]]:
    """(batch, heads, seq, head_dim) shapes, dtypes and causal flags for the device."""
    gpu = ctx.device == "cuda"
    shapes = ctx.size(
        full=[(4, 16, s, 64) for s in (512, 1024, 2048, 4096)]
        if gpu
        else [(2, 8, s, 64) for s in (128, 256, 512, 1024)],
        quick=[(4, 16, s, 128) for s in (1024, 4096)]
        if gpu
        else [(2, 4, s, 64) for s in (128, 512, 1024)],
        tiny=[(1, 2, 16, 8)],
    )
    dtypes = ["bf16", "fp16"] if gpu else (["fp32", "bf16"] if not ctx.tiny else ["fp32"])
    if ctx.device == "mps":
        dtypes = ["fp32", "fp16"]
    causal = [True] if ctx.quick else [True, False]
    return shapes, dtypes, causal


# The backward pass is also timed alone, on a graph kept across calls: subtracting the
# forward's time from forward+backward's gave a noisy (even negative) difference at small
# sizes, where a stall of either measurement is larger than the backward itself.
DIRECTIONS = ("forward", "forward_backward", "backward")


def make_step(
    fn: Callable[..., torch.Tensor],
    base: list[torch.Tensor],
    device: str,
    dtype: torch.dtype,
    causal: bool,
    direction: str,
) -> Callable[[], None]:
    """One timed call: the forward, the forward and backward, or the backward alone."""
    grad_needed = direction != "forward"
    q, k, v = (t.to(device, dtype).requires_grad_(grad_needed) for t in base)
    if direction == "forward":

        def forward() -> None:
            fn(q, k, v, causal)

        return forward
    grad = torch.ones_like(q)
    if direction == "forward_backward":
        return lambda: fn(q, k, v, causal).backward(grad)
    y = fn(q, k, v, causal)
    return lambda: y.backward(grad, retain_graph=True)


def run(ctx: Context) -> Outcome:
    out = Outcome()
    shapes, dtypes, causals = cases(ctx)
    for dtype in dtypes:
        for b, a, s, d in shapes:
            g = torch.Generator().manual_seed(s)
            base = [torch.randn(b, a, s, d, generator=g) for _ in range(3)]
            for causal in causals:
                for impl, fn in IMPLS.items():
                    for direction in DIRECTIONS:
                        try:
                            step = make_step(fn, base, ctx.device, DTYPES[dtype], causal, direction)
                            stats = ctx.measure(step)
                        except RuntimeError as e:
                            out.notes.append(
                                f"{impl} {dtype} s={s} {direction}: not run "
                                f"({str(e).splitlines()[0]})"
                            )
                            continue
                        flops = attention_flops(b, a, s, d, causal, direction != "forward")
                        if direction == "backward":
                            flops *= 2.0 / 3.0  # backward alone: 2x forward
                        out.rows.append(
                            AttentionRow(
                                impl=impl,  # type: ignore[arg-type]
                                direction=direction,  # type: ignore[arg-type]
                                causal=causal,
                                dtype=dtype,
                                batch=b,
                                heads=a,
                                seq_len=s,
                                head_dim=d,
                                flops=flops,
                                time=stats,
                                tflops=flops / stats.median_s / 1e12,
                            )
                        )
    out.notes.append(
        "FLOPs: forward 4·b·a·s²·d, causal counted as half, forward+backward = 3x forward, "
        "backward alone (timed on a retained graph) = 2x forward"
    )
    return out
