"""Memory bandwidth: STREAM copy and triad, and host-device transfer.

Bytes are counted as STREAM counts them (McCalpin, "STREAM: Sustainable Memory
Bandwidth in High Performance Computers", www.cs.virginia.edu/stream): copy
b = a moves 2·N elements, triad a = b + s·c moves 3·N (write-allocate traffic
is not counted). Sizes sweep from cache-resident to well beyond the last-level
cache, so the curve shows both. `fill` writes N elements into an existing
tensor; `alloc` allocates a fresh tensor, fills it and frees it, as a training
step does with every activation: where the allocator hands large blocks back
to the operating system (glibc's malloc above its mmap threshold) every such
allocation is mapped fresh and its first write page-faults, so `alloc` runs
far slower than `fill` above some size; a caching allocator (CUDA's) shows no
difference. With an accelerator, host-to-device and
device-to-host copies of pinned host memory move N elements each.
"""

from __future__ import annotations

import torch

from advisor.benchmarks.harness import Context, Outcome
from advisor.benchmarks.results import BandwidthRow

NAME = "membw"
ELEM = 4  # fp32


def sizes(ctx: Context) -> list[int]:
    """Elements per array."""
    gpu = ctx.device == "cuda"
    return ctx.size(
        full=[2**p for p in range(14, 30 if gpu else 28, 2)],
        quick=[2**p for p in ((16, 20, 24, 28) if gpu else (14, 17, 20, 23, 25))],
        tiny=[2**10, 2**12],
    )


def run(ctx: Context) -> Outcome:
    out = Outcome()
    dev = ctx.device
    for n in sizes(ctx):
        a = torch.zeros(n, device=dev)
        b = torch.ones(n, device=dev)
        c = torch.full((n,), 2.0, device=dev)
        kernels = {
            "copy": (lambda a=a, b=b: b.copy_(a), 2),
            "triad": (lambda a=a, b=b, c=c: torch.add(b, c, alpha=3.0, out=a), 3),
            "fill": (lambda a=a: a.fill_(1.0), 1),
            "alloc": (lambda n=n: torch.empty(n, device=dev).fill_(1.0), 1),
        }
        for kernel, (fn, arrays) in kernels.items():
            stats = ctx.measure(fn)
            moved = float(arrays * n * ELEM)
            out.rows.append(
                BandwidthRow(
                    kernel=kernel,  # type: ignore[arg-type]
                    dtype="fp32",
                    elements=n,
                    bytes_moved=moved,
                    time=stats,
                    gbs=moved / stats.median_s / 1e9,
                )
            )
        del a, b, c
        if dev in ("cuda", "mps"):
            out.rows += transfers(ctx, n)
    big = [r for r in out.rows if r.kernel in ("copy", "triad")]
    out.notes.append("fill and alloc move N elements (one write); alloc includes allocating")
    best = max(big, key=lambda r: r.gbs)
    out.notes.append(f"best {best.kernel}: {best.gbs:.4g} GB/s at {best.bytes_moved:.3g} bytes")
    return out


def transfers(ctx: Context, n: int) -> list[BandwidthRow]:
    """Host-to-device and device-to-host copies of N fp32 elements."""
    pinned = ctx.device == "cuda"
    host = torch.ones(n, pin_memory=pinned)
    dev = torch.empty(n, device=ctx.device)
    rows = []
    for kernel, fn in (
        ("h2d", lambda: dev.copy_(host, non_blocking=pinned)),
        ("d2h", lambda: host.copy_(dev, non_blocking=pinned)),
    ):
        stats = ctx.measure(fn)
        moved = float(n * ELEM)
        rows.append(
            BandwidthRow(
                kernel=kernel,  # type: ignore[arg-type]
                dtype="fp32",
                elements=n,
                bytes_moved=moved,
                pinned=pinned,
                time=stats,
                gbs=moved / stats.median_s / 1e9,
            )
        )
    return rows
