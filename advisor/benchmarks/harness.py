"""Timing harness: warm-up, repeats, median and spread, device synchronisation.

`measure(fn, ctx)` calls `fn` a few times untimed (warm-up: kernels compiled,
caches and allocators warm), then takes samples until it has `repeats` of them
or its time budget is spent. A sample times `inner` back-to-back calls, chosen
so that one sample lasts at least `target_sample_s` (timer resolution and
launch noise then stay small against it). GPUs are timed with CUDA events
recorded on the stream around the calls, then synchronised; CPUs with
`time.perf_counter`; MPS with `torch.mps.synchronize` around the calls.

`summarize` is pure (numpy only) so its statistics are tested without torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from advisor.benchmarks.results import Stats

DEVICES = ("auto", "cpu", "cuda", "mps")


class Skip(Exception):
    """A benchmark cannot run here (no GPU, no backend): recorded as 'skipped' with the reason."""


@dataclass
class Outcome:
    """What a benchmark's `run(ctx)` returns: its rows and notes for the reader."""

    rows: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def summarize(samples: list[float], warmup: int, inner: int = 1) -> Stats:
    """Median, mean, extremes, standard deviation and interquartile range of per-call times."""
    if not samples:
        raise ValueError("no samples")
    x = np.asarray(samples, dtype=float)
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError("samples must be positive and finite")
    q1, med, q3 = (float(v) for v in np.percentile(x, [25, 50, 75]))
    return Stats(
        warmup=warmup,
        repeats=len(x),
        inner=inner,
        median_s=med,
        mean_s=float(x.mean()),
        min_s=float(x.min()),
        max_s=float(x.max()),
        stdev_s=float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        iqr_s=q3 - q1,
        spread=(q3 - q1) / med,
        samples_s=[float(v) for v in x],
    )


@dataclass
class Context:
    """What every benchmark gets: the device, the size of the run, and the timer."""

    device: str = "cpu"
    quick: bool = False
    threads: int | None = None
    nproc: int = 2
    scratch: Path = field(default_factory=lambda: Path("."))
    tiny: bool = False  # tests: the smallest sizes that still exercise the code
    warmup: int = 2
    repeats: int = 7
    max_seconds: float = 1.0  # per case, after warm-up
    target_sample_s: float = 2e-3

    def sync(self) -> None:
        synchronize(self.device)

    def measure(self, fn: Callable[[], Any], **kw: Any) -> Stats:
        opts = {
            "warmup": self.warmup,
            "repeats": self.repeats,
            "max_seconds": self.max_seconds,
            "target_sample_s": self.target_sample_s,
        }
        opts.update(kw)
        return measure(fn, self.device, **opts)

    def size(self, full: Any, quick: Any, tiny: Any) -> Any:
        """Pick a sweep or size by how big the run is."""
        return tiny if self.tiny else (quick if self.quick else full)


def quick_context(ctx: Context) -> Context:
    """Short budgets: the whole --quick suite runs within a minute on two cores."""
    ctx.warmup, ctx.repeats, ctx.max_seconds = 1, 5, 0.25
    return ctx


def tiny_context(ctx: Context) -> Context:
    ctx.tiny, ctx.quick = True, True
    ctx.warmup, ctx.repeats, ctx.max_seconds, ctx.target_sample_s = 1, 3, 0.05, 0.0
    return ctx


def synchronize(device: str) -> None:
    """Wait for queued device work (a no-op on CPU)."""
    if device == "cpu":
        return
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def _time_once(fn: Callable[[], Any], device: str, inner: int) -> float:
    """Seconds for `inner` calls, synchronised; CUDA events on GPUs."""
    if device.startswith("cuda"):
        import torch

        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) / 1e3
    synchronize(device)
    t0 = perf_counter()
    for _ in range(inner):
        fn()
    synchronize(device)
    return perf_counter() - t0


def measure(
    fn: Callable[[], Any],
    device: str = "cpu",
    *,
    warmup: int = 2,
    repeats: int = 7,
    min_repeats: int = 3,
    max_seconds: float | None = 1.0,
    target_sample_s: float = 2e-3,
    inner: int | None = None,
) -> Stats:
    """Time `fn`: warm-up calls, then up to `repeats` samples (at least `min_repeats`)
    within `max_seconds`; returns per-call statistics."""
    if repeats < 1 or warmup < 0:
        raise ValueError("repeats must be >= 1 and warmup >= 0")
    for _ in range(warmup):
        fn()
    synchronize(device)
    if inner is None:
        first = _time_once(fn, device, 1)
        inner = 1 if first <= 0 else max(1, min(10_000, math.ceil(target_sample_s / first)))
        samples = [first] if inner == 1 else []
    else:
        samples = []
    t_start = perf_counter()
    while len(samples) < repeats:
        if (
            max_seconds is not None
            and len(samples) >= min(min_repeats, repeats)
            and perf_counter() - t_start > max_seconds
        ):
            break
        samples.append(_time_once(fn, device, inner) / inner)
    return summarize(samples, warmup, inner)


def resolve_device(name: str) -> str:
    """'auto' -> cuda, else mps, else cpu; a named device must be present."""
    import torch

    name = name.lower()
    if name not in DEVICES:
        raise ValueError(f"unknown device '{name}'; choose from {', '.join(DEVICES)}")
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        return "cuda" if cuda else ("mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise ValueError("--device cuda: no CUDA device is visible to torch")
    if name == "mps" and not mps:
        raise ValueError("--device mps: the MPS backend is not available")
    return name


def set_threads(threads: int | None) -> int:
    """Intra-op threads for CPU work (default: physical cores); returns the count used."""
    import psutil
    import torch

    n = threads or psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    torch.set_num_threads(int(n))
    return torch.get_num_threads()
