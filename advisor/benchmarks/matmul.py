"""Matrix multiply throughput against shape and dtype.

A (m x k) by (k x n) product is 2·m·n·k FLOPs (Narayanan et al. 2021, §5.1).
Shapes sweep squares and the tall-skinny products of a transformer layer
(tokens x hidden by hidden x 4·hidden and back) with their backward shapes. dtypes: fp32 (tf32 off),
tf32 (CUDA), bf16, fp16 and fp8 (e4m3 through `torch._scaled_mm`, CUDA
capability 8.9+), each where the device supports it; and fp32 inputs under
`torch.autocast` to bf16/fp16, as mixed-precision training runs them (the cast
of both inputs is part of the measured time). The maximum achieved TFLOP/s per
dtype is the device's maximum achievable matmul FLOPS ("MAMF", Bekman, ML
Engineering, compute/accelerator/benchmarks) for this sweep.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import MatmulRow

NAME = "matmul"
TORCH_DTYPES = {
    "fp32": torch.float32,
    "tf32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def shapes(ctx: Context, mode: str = "native") -> list[tuple[int, int, int]]:
    """(m, n, k): squares, then the products of a transformer layer for a hidden size h:
    forward (tokens x h by h x n for n = 3h, 4h; and back, 4h to h), and each one's
    backward pair, the input gradient (m, k, n) and the weight gradient (k, n, m), which
    run at the same FLOPs in other shapes. The autocast mode measures squares only."""
    gpu = ctx.device == "cuda"
    squares = ctx.size(
        full=[64, 128, 256, 512, 1024, 2048, 4096] + ([8192, 16384] if gpu else []),
        quick=[64, 128, 256, 512, 1024, 2048] + ([4096, 8192] if gpu else []),
        tiny=[32, 64],
    )
    layers: list[tuple[int, int]] = ctx.size(  # (hidden, tokens)
        full=[(4096, 2048), (4096, 8192)] if gpu else [(256, 2048), (512, 2048), (1024, 512)],
        quick=[(4096, 8192)] if gpu else [(256, 2048), (512, 1024)],
        tiny=[(32, 64)],
    )
    out = [(s, s, s) for s in squares]
    if mode != "native":
        return out
    for h, t in layers:
        for n, k in ((3 * h, h), (4 * h, h), (h, 4 * h)):
            out += [(t, n, k), (t, k, n), (k, n, t)]
    return out


def supported(device: str, quick: bool = False) -> list[tuple[str, str]]:
    """(dtype, mode) pairs this device runs."""
    if device == "cuda":
        pairs = [("fp32", "native"), ("tf32", "native"), ("bf16", "native"), ("fp16", "native")]
        if torch.cuda.get_device_capability() >= (8, 9) and hasattr(torch, "float8_e4m3fn"):
            pairs.append(("fp8", "native"))
        return [*pairs, ("bf16", "autocast"), ("fp16", "autocast")]
    if device == "mps":
        return [("fp32", "native"), ("fp16", "native"), ("bf16", "native")]
    if quick:  # what a CPU trains in; fp16 (no fast CPU kernels) only in the full sweep
        return [("fp32", "native"), ("bf16", "native"), ("bf16", "autocast")]
    return [("fp32", "native"), ("bf16", "native"), ("fp16", "native"), ("bf16", "autocast")]


def _operands(
    dtype: str, mode: str, m: int, n: int, k: int, device: str
) -> Callable[[], torch.Tensor]:
    g = torch.Generator().manual_seed(m * 7 + n * 3 + k)
    a = torch.randn(m, k, generator=g).to(device)
    b = torch.randn(k, n, generator=g).to(device)
    if dtype == "fp8":
        a8 = a.to(torch.float8_e4m3fn)
        b8 = b.t().contiguous().to(torch.float8_e4m3fn).t()  # column-major, as cuBLASLt needs
        one = torch.ones((), device=device)
        return lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    if mode == "autocast":
        dt = TORCH_DTYPES[dtype]

        def run() -> torch.Tensor:
            with torch.autocast(device_type=device, dtype=dt):
                return a @ b

        return run
    a, b = a.to(TORCH_DTYPES[dtype]), b.to(TORCH_DTYPES[dtype])
    return lambda: a @ b


def _tf32(enabled: bool) -> None:
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = enabled


def run(ctx: Context) -> Outcome:
    out = Outcome()
    best: dict[str, MatmulRow] = {}
    for dtype, mode in supported(ctx.device, ctx.quick):
        _tf32(dtype == "tf32")
        for m, n, k in shapes(ctx, mode):
            if dtype == "fp8" and (m % 16 or n % 16 or k % 16):
                continue
            try:
                fn = _operands(dtype, mode, m, n, k, ctx.device)
                stats = ctx.measure(fn)
            except (RuntimeError, NotImplementedError, TypeError) as e:
                out.notes.append(f"{dtype} {mode} {m}x{n}x{k}: not run ({str(e).splitlines()[0]})")
                break
            flops = 2.0 * m * n * k
            row = MatmulRow(
                dtype=dtype,
                mode=mode,
                m=m,
                n=n,
                k=k,
                flops=flops,
                time=stats,
                tflops=flops / stats.median_s / 1e12,
            )
            out.rows.append(row)
            key = f"{dtype} {mode}"
            if key not in best or row.tflops > best[key].tflops:
                best[key] = row
    _tf32(False)
    if not out.rows:
        raise Skip("no dtype ran on this device")
    for key, r in best.items():
        out.notes.append(f"max {key}: {r.tflops:.3g} TFLOP/s at {r.m}x{r.n}x{r.k}")
    return out
