"""The operating point: batch, time per output token and time to first token at the
offered load, for arrays of configurations at once.

offline: every request queued, the batch is the largest that fits (how offline
benchmarks run; the queue's own wait is not in TTFT, it depends on how many are queued).
concurrency N: N requests in flight per replica, at most the largest batch; the rest wait.
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
) -> Point:
    """`load` is concurrency or rate per replica (ignored offline); `step(B)` the step."""
    mb = np.maximum(np.asarray(max_batch, dtype=float), 1.0)
    out = np.asarray(output_len, dtype=float)
    full = step(mb)
    cap_rate = mb / (out * full.time)  # requests/s at the largest batch

    def ttft(s: Step, rate: Any, b: Any) -> Any:
        # The prompt waits for the others' step in progress (half a step on average),
        # and, under an open arrival rate, for the prompts queued ahead of it (M/D/1 on
        # the prompt work; a closed loop of N clients has no such queue).
        rho = np.asarray(rate) / cap_rate if mode == "rate" else 0.0
        others = np.clip((np.asarray(b) - 1.0) / np.maximum(b, 1e-9), 0.0, 1.0)
        return ttft_factor * (prefill + 0.5 * s.time * others + queue_wait(rho, prefill))

    if mode == "offline":
        t1 = ttft(full, 0.0, mb)
        return Point(mb, full.time, t1, mb / full.time, np.zeros_like(mb, bool), full)
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
