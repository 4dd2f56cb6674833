"""Allocator slack: the memory a training process holds beyond its live tensors.

A mid-size GPT (advisor/benchmarks/gpt.py; a shape `advisor validate` does not train)
runs a few training steps in a fresh process (advisor/benchmarks/train_step.py), which
reports the peak memory above `import torch` and the peak bytes of live
tensors during one step (CUDA: `max_memory_allocated`; CPU: the profiler's
allocation events, in one more step after the peak was read). What the process
held beyond the live tensors and the framework's own fixed memory (the
`overhead` benchmark's probe) is what the allocator kept: freed blocks it did
not return, fragmentation. `advisor calibrate` turns it into a fraction of the
live tensors. The step time is recorded too: `advisor calibrate` compares it
with what the microbenchmarks predict for the same step (training efficiency),
in fp32 and, where the device runs it, under bf16 autocast, whose in-step speed
against the microbenchmarks differs (casts, autocast dispatch, bf16 kernels).
"""

from __future__ import annotations

from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import AllocatorRow, GPTShape, TrainRequest
from advisor.benchmarks.train_request import STEP_PRECISIONS
from advisor.benchmarks.train_step import run_in_subprocess

NAME = "allocator"


def _gpt(layers: int, hidden: int, vocab: int, seq: int, batch: int) -> GPTShape:
    return GPTShape(name=f"gpt-alloc-{layers}L-{hidden}", layers=layers, hidden=hidden,
                    heads=max(1, hidden // 64), vocab=vocab, seq_len=seq, batch=batch)  # fmt: skip


def shapes(ctx: Context) -> list[GPTShape]:
    if ctx.device == "cuda":
        return ctx.size(
            full=[_gpt(6, 768, 32768, 1024, 8), _gpt(12, 1024, 32768, 1024, 8)],
            quick=[_gpt(6, 768, 32768, 1024, 8)],
            tiny=[_gpt(1, 32, 64, 16, 2)],
        )
    return ctx.size(
        full=[_gpt(5, 320, 6144, 256, 6), _gpt(3, 384, 6144, 384, 4), _gpt(7, 448, 8192, 256, 8)],
        quick=[_gpt(5, 320, 6144, 256, 6)],
        tiny=[_gpt(1, 32, 64, 16, 2)],
    )


def run(ctx: Context) -> Outcome:
    from advisor.benchmarks.training import autocast_supported  # torch: only when the bench runs

    out = Outcome()
    if ctx.device == "mps":
        raise Skip("no peak-memory counter for MPS")
    runs = [(s, p) for p in STEP_PRECISIONS for s in shapes(ctx)]
    for shape, precision in runs:
        if not autocast_supported(ctx.device, precision):
            out.notes.append(f"{precision}: not supported on {ctx.device}")
            continue
        req = TrainRequest(
            model=shape,
            device=ctx.device,
            precision=precision,  # type: ignore[arg-type]
            steps=5,
            warmup=2,
            threads=ctx.threads,
            live_peak=True,
        )
        m = run_in_subprocess(req, timeout_s=300)
        if m.peak_allocated_bytes is None:
            out.notes.append(f"{shape.name}: torch reported no live-tensor peak")
            continue
        out.rows.append(
            AllocatorRow(
                device=ctx.device,
                precision=precision,
                model=shape,
                params=m.params,
                peak_bytes=m.peak_bytes,
                allocated_bytes=m.peak_allocated_bytes,
                time=m.time,
            )
        )
        out.notes.append(f"{shape.name} {precision}: peak = {m.peak_method}")
    if not out.rows:
        raise Skip("no live-tensor peak measured")
    return out
