"""Framework memory overhead: what training needs beyond the model's tensors.

A tiny GPT (its weights, gradients and AdamW moments are well under a
megabyte) is trained for a few steps in a fresh process
(advisor/benchmarks/train_step.py); the peak memory above the state right after
`import torch`, minus those tensors (16 bytes per fp32 parameter with AdamW),
is the framework's own memory: lazily imported modules and kernels, thread
pools, allocator slack and, on a GPU, the CUDA context and library
workspaces. It does not grow with the model, so the device profile carries it
as `framework_overhead_gb`. The probe's step time, which is almost all the
fixed cost of its operators, is recorded too (`advisor calibrate` fits a
per-operator time from it); the probe is smaller than any shape
`advisor validate` trains.
"""

from __future__ import annotations

from advisor.benchmarks.harness import Context, Outcome, Skip
from advisor.benchmarks.results import GPTShape, OverheadRow, TrainRequest
from advisor.benchmarks.train_request import STEP_PRECISIONS
from advisor.benchmarks.train_step import run_in_subprocess

NAME = "overhead"
PROBE = GPTShape(name="gpt-probe", layers=1, hidden=64, heads=2, vocab=256, seq_len=32, batch=2)
STATE_BYTES_PER_PARAM = 16  # fp32 weight + fp32 gradient + AdamW m and v


def run(ctx: Context) -> Outcome:
    from advisor.benchmarks.training import autocast_supported  # torch: only when the probe runs

    out = Outcome()
    if ctx.device == "mps":
        raise Skip("no peak-memory counter for MPS")
    for precision in STEP_PRECISIONS:
        if not autocast_supported(ctx.device, precision):
            continue
        req = TrainRequest(
            model=PROBE, precision=precision, device=ctx.device, steps=9, warmup=3,
            threads=ctx.threads,
        )  # fmt: skip
        m = run_in_subprocess(req, timeout_s=300)
        tensors = float(STATE_BYTES_PER_PARAM * m.params)
        out.rows.append(
            OverheadRow(
                device=ctx.device,
                precision=precision,
                model=PROBE,
                params=m.params,
                baseline_bytes=m.baseline_bytes,
                peak_bytes=m.peak_bytes,
                tensor_bytes=tensors,
                overhead_bytes=max(0.0, m.peak_bytes - tensors),
                tokens=m.tokens,
                time=m.time,
            )
        )
        out.notes.append(f"{precision}: peak = {m.peak_method}")
    return out
