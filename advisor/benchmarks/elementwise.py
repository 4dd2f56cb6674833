"""Elementwise operators of a transformer step as elements per second.

The operators whose cost is their arithmetic rather than the bytes they move
(on a CPU exp, erf and rsqrt are dozens of cycles a value): a LayerNorm over
rows of a hidden-sized width (`norm`), the GELU of an MLP (`activation`), the
softmax cross-entropy over a vocabulary-sized width (`softmax`, as the loss is
computed: log_softmax then nll_loss, in fp32), each forward and backward; and
conversions between fp32 and the low-precision dtype (`cast`), which autocast
inserts in front of every low-precision matmul. Sizes sweep from cache-resident
to beyond the caches; rows record elements = rows x width and Gelem/s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from advisor.benchmarks.harness import Context, Outcome
from advisor.benchmarks.results import VectorRow

NAME = "elementwise"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
WIDTH = {"norm": 512, "activation": 2048, "softmax": 4096, "cast": 2048}


def elements(ctx: Context) -> list[int]:
    gpu = ctx.device == "cuda"
    return ctx.size(
        full=[2**p for p in ((20, 22, 24, 26) if gpu else (16, 18, 20, 22, 24))],
        quick=[2**p for p in ((20, 24) if gpu else (18, 22))],
        tiny=[2**12],
    )


def dtypes(ctx: Context) -> list[str]:
    if ctx.device == "cuda":
        return ["fp32", "bf16", "fp16"] if not ctx.quick else ["fp32", "bf16"]
    if ctx.device == "mps":
        return ["fp32", "fp16"]
    return ["fp32", "bf16"] if not ctx.tiny else ["fp32"]


def _case(op: str, dtype: str, rows: int, width: int, device: str) -> tuple[str, Any]:
    """(torch call, step function) for one operator, forward and backward."""
    g = torch.Generator().manual_seed(rows + width)
    dt = DTYPES[dtype]
    x = torch.randn(rows, width, generator=g).to(device, dt).requires_grad_()
    if op == "norm":
        w = torch.ones(width, device=device, dtype=dt, requires_grad=True)
        b = torch.zeros(width, device=device, dtype=dt, requires_grad=True)
        grad = torch.ones_like(x)

        def norm() -> None:  # autograd.grad: fresh gradients, as for activations in a step
            torch.autograd.grad(F.layer_norm(x, (width,), w, b), (x, w, b), grad)

        return "layer_norm", norm
    if op == "activation":
        grad = torch.ones_like(x)

        def gelu() -> None:
            torch.autograd.grad(F.gelu(x), x, grad)

        return "gelu", gelu
    target = torch.randint(0, width, (rows,), generator=g).to(device)

    def loss() -> None:
        torch.autograd.grad(F.cross_entropy(x.float(), target), x)

    return "cross_entropy", loss


def _casts(dtype: str, n: int, device: str) -> list[tuple[str, Callable[[], Any]]]:
    rows = max(1, n // WIDTH["cast"])
    full = torch.randn(rows, WIDTH["cast"]).to(device)
    low = full.to(DTYPES[dtype])
    return [
        (f"fp32->{dtype}", lambda: full.to(DTYPES[dtype])),
        (f"{dtype}->fp32", lambda: low.float()),
    ]


def run(ctx: Context) -> Outcome:
    out = Outcome()
    for dtype in dtypes(ctx):
        for n in elements(ctx):
            for op in ("norm", "activation", "softmax"):
                if op == "softmax" and dtype != "fp32":
                    continue  # the loss runs in fp32 whatever the training dtype
                width = min(WIDTH[op], n)
                rows = max(1, n // width)
                impl, fn = _case(op, dtype, rows, width, ctx.device)
                out.rows.append(_row(ctx, op, impl, dtype, "forward_backward", rows, width, fn))
            if dtype != "fp32":
                for impl, fn in _casts(dtype, n, ctx.device):
                    width = min(WIDTH["cast"], n)
                    rows = max(1, n // width)
                    out.rows.append(_row(ctx, "cast", impl, dtype, "forward", rows, width, fn))
    out.notes.append(
        "norm, activation, softmax: forward + backward; cast: one conversion; "
        "Gelem/s = rows x width / median time"
    )
    return out


def _row(
    ctx: Context,
    op: str,
    impl: str,
    dtype: str,
    direction: str,
    rows: int,
    width: int,
    fn: Callable[[], Any],
) -> VectorRow:
    stats = ctx.measure(fn)
    n = rows * width
    return VectorRow(
        op=op,  # type: ignore[arg-type]
        impl=impl,
        dtype=dtype,
        direction=direction,  # type: ignore[arg-type]
        rows=rows,
        width=width,
        elements=n,
        time=stats,
        gelems=n / stats.median_s / 1e9,
    )
