"""The operating point: batch, time per output token and time to first token at the
offered load, for arrays of configurations at once.

offline: every request queued, the batch is the largest that fits (how offline
benchmarks run; the queue's own wait is not in TTFT, it depends on how many are queued).
concurrency N: N requests in flight per replica, at most the largest batch; the rest wait.
burst of N (a benchmark that sends N requests at once and times them all, e.g. the
TRT-LLM v0.14 INF-rate rows): at most N run together; with every one admitted, their
prompts are prefilled first come first served (the k-th waits for k prompts' work), so
mean TTFT = (N+1)/2 x one prompt's share, and mean TPOT = (the run's time - mean TTFT)
/ (output_len - 1): all finish together, so a request's decode took the rest of the run.
rate R: Little's law (Little 1961), B = R x (TTFT(B) + output_len x TPOT(B)), solved by
bisection on B; a rate above what the largest batch sustains is saturated (inf latency).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.serve.time import Step, queue_wait

BISECTIONS = 32


@dataclass(frozen=True)
class Point:
    batch: Any  # mean sequences in flight per replica
    tpot: Any  # s
    ttft: Any  # s
    output_tokens_per_s: Any  # per replica
    saturated: Any  # bool: the offered rate exceeds what the replica sustains
    step: Step


def solve(
    mode: str,
    load: Any,
    max_batch: Any,
    output_len: Any,
    step: Callable[[Any], Step],
    prefill: Any,
    ttft_factor: Any = 1.0,
    sched_steps: Any = 1.0,
) -> Point:
    """`load` is concurrency or rate per replica (ignored offline); `step(B)` the step;
    `sched_steps` the decode steps the engine schedules at once (vLLM's
    --num-scheduler-steps): a new prompt waits for the group in progress."""
    mb = np.maximum(np.asarray(max_batch, dtype=float), 1.0)
    out = np.asarray(output_len, dtype=float)
    full = step(mb)
    cap_rate = mb / (out * full.time)  # requests/s at the largest batch

    def ttft(s: Step, rate: Any, b: Any) -> Any:
        # The prompt waits for the others' scheduling group in progress (half of it on
        # average: half a step, or half of k steps under multi-step scheduling), and,
        # under an open arrival rate, for the prompts queued ahead of it: M/D/1 on the
        # prompt work alone, whose utilisation is rate x prefill time (the decode batch
        # grows with the load instead of queueing; a closed loop of N clients has no
        # such queue).
        rho = np.asarray(rate) * prefill if mode == "rate" else 0.0
        others = np.clip((np.asarray(b) - 1.0) / np.maximum(b, 1e-9), 0.0, 1.0)
        group = 0.5 * np.asarray(sched_steps) * s.time * others
        return ttft_factor * (prefill + group + queue_wait(rho, prefill))

    if mode == "offline":
        t1 = ttft(full, 0.0, mb)
        return Point(mb, full.time, t1, mb / full.time, np.zeros_like(mb, bool), full)
    if mode == "burst":
        n = np.asarray(load, dtype=float)
        b = np.minimum(n, mb)
        s = step(b)
        run = out * s.time  # the whole run at batch b: every decode and every prompt
        per_prompt = out * s.prefill_compute / np.maximum(b, 1.0)  # batched prompt work
        first = np.maximum((b + 1.0) / 2.0 * per_prompt, prefill)
        queued = np.maximum(n - b, 0.0)  # wait for a slot: the j-th waits j completions
        thr = b / s.time
        wait = queued / n * (queued / 2.0) / (thr / out)
        t1 = ttft_factor * (first + wait)
        tpot = np.where(queued > 0, s.time, (run - first) / np.maximum(out - 1.0, 1.0))
        return Point(b, tpot, t1, thr, np.zeros_like(b, bool), s)
    if mode == "concurrency":
        n = np.asarray(load, dtype=float)
        b = np.minimum(n, mb)
        s = step(b)
        thr = b / s.time
        waiting = np.maximum(n - b, 0.0) / (thr / out)  # Little's law on the queue
        return Point(b, s.time, ttft(s, thr / out, b) + waiting, thr, np.zeros_like(b, bool), s)
    rate = np.asarray(load, dtype=float) * np.ones_like(mb)
    saturated = rate >= cap_rate
    lo, hi = np.zeros_like(mb), mb.copy()
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        s = step(np.maximum(mid, 1e-9))
        need = rate * (ttft(s, rate, mid) + out * s.time)
        lo = np.where(need > mid, mid, lo)
        hi = np.where(need > mid, hi, mid)
    b = np.where(saturated, mb, hi)
    s = step(np.maximum(b, 1e-9))
    t1 = np.where(saturated, np.inf, ttft(s, rate, b))
    tp = np.where(saturated, np.inf, s.time)
    thr = np.where(saturated, mb / s.time, rate * out)
    return Point(b, tp, t1, thr, saturated, s)
