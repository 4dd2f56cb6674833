"""Collectives on torch.distributed: all-reduce, all-gather, reduce-scatter.

Algorithm and bus bandwidth as nccl-tests defines them (NVIDIA nccl-tests,
doc/PERFORMANCE.md): for a size S (the whole buffer: all-reduce's message,
all-gather's output, reduce-scatter's input) taking time t on n ranks,
algbw = S / t and busbw = algbw x factor, factor 2(n-1)/n for all-reduce and
(n-1)/n for all-gather and reduce-scatter. busbw is comparable with the link's
bandwidth whatever n is. gloo carries CPU tensors, NCCL GPU tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist

from advisor.benchmarks.busbw import bus_factor
from advisor.benchmarks.dist import DistEnv
from advisor.benchmarks.harness import Context, Outcome
from advisor.benchmarks.results import CollectiveRow

NAME = "collectives"
OPS = ("all_reduce", "all_gather", "reduce_scatter")
ELEM = 4  # fp32


def sizes(ctx: Context, cuda: bool) -> list[int]:
    """Buffer sizes S in bytes (multiples of world x 4 bytes)."""
    return ctx.size(
        full=[2**p for p in range(12, 31 if cuda else 27, 2)],
        quick=[2**p for p in ((12, 16, 20, 24, 28) if cuda else (12, 16, 20, 22))],
        # Far enough apart that transfer time outgrows a scheduler stall of a few ms
        # (two ranks sharing two cores): 2**18 bytes let time fall with size.
        tiny=[2**10, 2**22],
    )


def make_op(op: str, size: int, world: int, device: str) -> Callable[[], None]:
    n = size // ELEM
    if op == "all_reduce":
        buf = torch.ones(n, device=device)
        return lambda: dist.all_reduce(buf)  # type: ignore[return-value]
    if op == "all_gather":
        out, inp = torch.empty(n, device=device), torch.ones(n // world, device=device)
        return lambda: dist.all_gather_into_tensor(out, inp)  # type: ignore[return-value]
    inp, out = torch.ones(n, device=device), torch.empty(n // world, device=device)
    return lambda: dist.reduce_scatter_tensor(out, inp)  # type: ignore[return-value]


def run_dist(ctx: Context, env: DistEnv) -> Outcome:
    out = Outcome()
    for op in OPS:
        for size in sizes(ctx, env.is_cuda):
            fn = make_op(op, size, env.world, env.device)
            dist.barrier()
            # Fixed counts on every rank: a time budget could stop ranks at different samples.
            reps = ctx.repeats if ctx.tiny else max(ctx.repeats, 15)
            stats = ctx.measure(
                fn,
                warmup=max(ctx.warmup, 2),
                repeats=reps,
                max_seconds=None,
                inner=1,
                min_repeats=reps,
            )
            factor = bus_factor(op, env.world)
            algbw = size / stats.median_s / 1e9
            out.rows.append(
                CollectiveRow(
                    op=op,  # type: ignore[arg-type]
                    backend=env.backend,
                    world_size=env.world,
                    dtype="fp32",
                    bytes=float(size),
                    bus_factor=factor,
                    time=stats,
                    algbw_gbs=algbw,
                    busbw_gbs=algbw * factor,
                )
            )
    big = max(out.rows, key=lambda r: r.busbw_gbs)
    out.notes.append(
        f"{env.backend}, {env.world} ranks: best busbw {big.busbw_gbs:.3g} GB/s "
        f"({big.op}, {big.bytes:.3g} bytes)"
    )
    return out
