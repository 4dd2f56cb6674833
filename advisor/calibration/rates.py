"""Rates and memory terms from the benchmarks: elementwise operators, first touch of
fresh memory, allocator slack (full and LoRA) and framework overhead (the training-step fit is
steps.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.benchmarks.results import BenchFile
from advisor.calibration.fitting import _Figures, _ok, fit_latency_bandwidth
from advisor.catalog.schema import Figure, VectorRates

VECTOR_BACKWARD = {"norm": 2.0, "activation": 2.0, "softmax": 1.0}  # as advisor/model/time.py


def vector_rates(bench: BenchFile, fig: _Figures) -> dict[str, VectorRates]:
    """Compute-bound elementwise throughput per dtype (VectorRates), Gelem/s."""
    res = _ok(bench, "elementwise")
    if res is None:
        return {}
    rows = [r for r in res.rows if r.kind == "vector"]
    out: dict[str, VectorRates] = {}
    for dtype in sorted({r.dtype for r in rows}):
        figs: dict[str, Figure] = {}
        for op in ("norm", "activation", "softmax", "cast"):
            mine = [r for r in rows if r.dtype == dtype and r.op == op]
            if not mine:
                continue
            mult = 1.0 + VECTOR_BACKWARD.get(op, 0.0)
            x = [mult * r.elements for r in mine]
            t = [r.time.median_s for r in mine]
            try:
                _, rate = fit_latency_bandwidth(x, t)
                how = f"slope of t = a + {mult:g}·elements/rate over {len(mine)} rows"
            except ValueError:
                top = max(mine, key=lambda r: r.elements)
                rate = mult * top.elements / top.time.median_s
                how = f"{mult:g} x {top.elements:,} elements / {top.time.median_s * 1e3:.3g} ms"
            impls = ", ".join(sorted({r.impl for r in mine}))
            figs[op] = fig(rate / 1e9, f"{dtype} {impls} ({mine[0].direction}): {how}")
        if figs:
            out[dtype] = VectorRates(**figs)
    return out


FIRST_TOUCH_MIN_SHARE = 0.5  # of the write time: below, fresh memory costs nothing extra


def first_touch(bench: BenchFile, fig: _Figures) -> tuple[Figure | None, Figure | None]:
    """(extra GB/s of writing freshly mapped memory, smallest tensor mapped fresh) from
    membw's `alloc` (allocate, fill, free) against `fill` at each size."""
    res = _ok(bench, "membw")
    if res is None:
        return None, None
    by: dict[tuple[str, int], float] = {}
    for r in res.rows:
        if r.kind == "bandwidth" and r.kernel in ("fill", "alloc"):
            by[(r.kernel, r.elements)] = r.time.median_s
    sizes = sorted(n for k, n in by if k == "alloc" and ("fill", n) in by)
    if not sizes:
        return None, None
    moved = {n: 4.0 * n for n in sizes}  # fp32
    extra = {n: by[("alloc", n)] - by[("fill", n)] for n in sizes}
    fresh = [n for n in sizes if extra[n] > FIRST_TOUCH_MIN_SHARE * by[("fill", n)]]
    if not fresh or fresh[-1] != sizes[-1]:
        return None, None  # no size, or not the largest, pays for fresh memory
    first = min(n for n in fresh if all(m in fresh for m in sizes if m >= n))
    top = sizes[-1]
    gbs = moved[top] / extra[top] / 1e9
    detail = ", ".join(
        f"{moved[n] / 2**20:.3g} MiB +{extra[n] * 1e3:.3g} ms" for n in sizes if n >= first
    )
    return (
        fig(
            gbs,
            f"membw alloc - fill at {moved[top] / 2**20:.4g} MiB: {extra[top] * 1e3:.3g} ms "
            f"more for fresh memory ({detail})",
        ),
        fig(
            moved[first],
            f"smallest size where alloc takes more than {1 + FIRST_TOUCH_MIN_SHARE:g}x fill's "
            "time (and every larger one does)",
            exact=True,
        ),
    )


def allocator_slack(bench: BenchFile, overhead_gb: Figure | None, fig: _Figures) -> Figure | None:
    res = _ok(bench, "allocator")
    if res is None or overhead_gb is None:
        return None
    rows = [r for r in res.rows if r.kind == "allocator" and r.allocated_bytes > 0]
    # The memory model's slack is full training's in fp32 (bf16 autocast's casts are
    # modelled as tensors of their own); other precisions' runs are there for the step fit.
    rows = [r for r in rows if r.precision == "fp32"] or rows
    if not rows:
        return None
    detail = ", ".join(
        f"{r.model.name}: peak {r.peak_bytes / 2**20:.1f} MiB, live {r.allocated_bytes / 2**20:.1f}"
        for r in rows
    )
    return _median_slack(rows, overhead_gb, fig, "", detail)


def _median_slack(
    rows: list[Any], overhead_gb: Figure, fig: _Figures, what: str, detail: str
) -> Figure:
    """(peak - framework overhead - live tensors) / live tensors, the median over `rows`."""
    oh = overhead_gb.value * 1e9
    each = [max(0.0, (r.peak_bytes - oh - r.allocated_bytes) / r.allocated_bytes) for r in rows]
    return fig(
        float(np.median(each)),
        f"{what}(peak - framework overhead {oh / 2**20:.1f} MiB - live tensors) / live tensors, "
        f"median of {len(rows)}: {detail}",
    )


def lora_allocator_slack(
    bench: BenchFile, overhead_gb: Figure | None, fig: _Figures
) -> Figure | None:
    """`allocator_slack` of LoRA steps (the `lora` benchmark): each adapted layer frees
    its frozen output and the adapter's temporaries, which the allocator keeps, so the
    slack differs from full training's."""
    res = _ok(bench, "lora")
    if res is None or overhead_gb is None:
        return None
    rows = [r for r in res.rows if r.kind == "lora_step" and (r.allocated_bytes or 0) > 0]
    if not rows:
        return None
    detail = ", ".join(
        f"{r.model.name} {r.model.layers}L-{r.model.hidden} seq {r.model.seq_len} batch "
        f"{r.model.batch} rank {r.rank} {r.precision}: peak {r.peak_bytes / 2**20:.1f} MiB, "
        f"live {r.allocated_bytes / 2**20:.1f}"
        for r in rows
    )
    return _median_slack(rows, overhead_gb, fig, "LoRA steps: ", detail)


def framework_overhead(bench: BenchFile, fig: _Figures) -> Figure | None:
    res = _ok(bench, "overhead")
    if res is None:
        return None
    rows = [r for r in res.rows if r.kind == "overhead"]
    top = max(rows, key=lambda r: r.overhead_bytes)
    each = ", ".join(f"{r.precision} {r.overhead_bytes / 1e9:.4f}" for r in rows)
    return fig(
        top.overhead_bytes / 1e9,
        f"peak memory of a {top.params:,}-parameter training process above 'import torch', "
        f"minus its weights, gradients and AdamW moments; GB by precision: {each}",
    )
