"""Efficiency curves from the benchmarks: matmul by dtype, memory bandwidth, the
intra-node link, the optimizer step and fused attention."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from advisor.benchmarks.results import BenchFile
from advisor.calibration.fitting import (
    CPU_BACKEND,
    CUDA_BACKEND,
    MAX_EFFICIENCY,
    _beats,
    _Figures,
    _ok,
    curve_points,
    fit_count_and_rate,
    fit_latency_bandwidth,
    reference_peak,
)
from advisor.catalog.schema import Accelerator, Curve, Figure, LinkProfile


def matmul_curves(
    bench: BenchFile, acc: Accelerator, fig: _Figures
) -> tuple[dict[str, Curve], dict[str, Figure]]:
    res = _ok(bench, "matmul")
    if res is None:
        return {}, {}
    curves: dict[str, Curve] = {}
    peaks: dict[str, Figure] = {}
    by_dtype: dict[str, list[Any]] = defaultdict(list)
    for row in res.rows:
        if row.kind == "matmul" and row.mode == "native":
            by_dtype[row.dtype].append(row)
    for dtype, rows in by_dtype.items():
        best = max(rows, key=lambda r: r.tflops)
        catalog = acc.peak_tflops.get(dtype)  # type: ignore[call-overload]
        peak, from_catalog = reference_peak(catalog.value if catalog else None, best.tflops)
        if from_catalog:
            peaks[dtype] = catalog
        else:
            why = "no catalog peak" if catalog is None else _beats(catalog)
            peaks[dtype] = fig(
                peak,
                f"best measured {dtype} matmul, {best.m}x{best.n}x{best.k}; "
                f"{why}, so efficiencies are relative to it",
            )
        pts = curve_points([r.flops for r in rows], [r.tflops / peak for r in rows])
        curves[dtype] = Curve(
            max_efficiency=fig(
                pts[-1][1],
                f"{dtype} matmul at the largest op measured ({pts[-1][0]:.3g} FLOPs) / "
                f"{peak:.4g} TFLOP/s; best {best.tflops:.4g} TFLOP/s at "
                f"{best.m}x{best.n}x{best.k} (efficiency {best.tflops / peak:.3f})",
            ),
            points=pts,
        )
    return curves, peaks


def memory_curve(
    bench: BenchFile, acc: Accelerator, fig: _Figures
) -> tuple[Curve | None, Figure | None, float | None]:
    """The memory curve, the bandwidth it refers to (when not the catalog's), and that GB/s."""
    res = _ok(bench, "membw")
    rows = (
        [r for r in res.rows if r.kind == "bandwidth" and r.kernel in ("copy", "triad")]
        if res
        else []
    )
    if not rows:
        ref = acc.memory_bandwidth_gbs.value if acc.memory_bandwidth_gbs else None
        return None, None, ref
    best = max(rows, key=lambda r: r.gbs)
    catalog = acc.memory_bandwidth_gbs
    ref, from_catalog = reference_peak(catalog.value if catalog else None, best.gbs)
    ref_fig = None
    if not from_catalog:
        why = "" if catalog is None else f"; {_beats(catalog)}"
        ref_fig = fig(
            ref,
            f"best measured {best.kernel} bandwidth, {best.bytes_moved:.3g} bytes "
            f"moved (STREAM counting){why}; memory efficiencies are relative to it",
        )
    pts = curve_points([r.bytes_moved for r in rows], [r.gbs / ref for r in rows])
    top = max(rows, key=lambda r: r.bytes_moved)
    curve = Curve(
        max_efficiency=fig(
            pts[-1][1],
            f"copy/triad at the largest size ({pts[-1][0]:.3g} bytes): "
            f"{pts[-1][1] * ref:.4g} GB/s ({top.kernel} {top.gbs:.4g}) / {ref:.4g} GB/s",
        ),
        points=pts,
    )
    return curve, ref_fig, ref


def link_profile(bench: BenchFile, fig: _Figures) -> tuple[LinkProfile | None, str | None]:
    """intra_node link from the collectives carried by the device's own backend."""
    res = _ok(bench, "collectives")
    if res is None:
        return None, None
    backend = CUDA_BACKEND if bench.env.device == "cuda" else CPU_BACKEND
    rows = [r for r in res.rows if r.kind == "collective" and r.backend == backend]
    if not rows:
        got = sorted({r.backend for r in res.rows if r.kind == "collective"})
        return None, f"collectives ran over {', '.join(got)}, not {backend}: no link fitted"
    x = [r.bytes * r.bus_factor for r in rows]
    t = [r.time.median_s for r in rows]
    world = rows[0].world_size
    best = max(r.busbw_gbs for r in rows)
    ops = ", ".join(sorted({r.op for r in rows}))
    try:
        latency, bw = fit_latency_bandwidth(x, t)
    except ValueError as e:
        # A stalled small collective (another process held the core) can make time fall
        # with size; the link is then described by what was measured, not dropped.
        latency = min(r.time.min_s for r in rows if r.bytes == min(q.bytes for q in rows))
        return (
            LinkProfile(
                bus_bandwidth_gbs=fig(
                    best,
                    f"best measured busbw of {len(rows)} {backend} collectives ({ops}) on "
                    f"{world} processes (no fit: {e})",
                ),
                latency_us=fig(latency * 1e6, f"fastest call at the smallest size, {backend}"),
            ),
            f"collectives: {e}; the link uses the best measured bus bandwidth",
        )
    return (
        LinkProfile(
            bus_bandwidth_gbs=fig(
                bw / 1e9,
                f"fit t = latency + S·factor/busbw over {len(rows)} {backend} collectives "
                f"({ops}) on {world} processes; best measured busbw {best:.4g} GB/s",
            ),
            latency_us=fig(latency * 1e6, f"intercept of the same fit, {backend}"),
        ),
        None,
    )


def optimizer_efficiency(
    bench: BenchFile, ref_gbs: float | None, fig: _Figures
) -> tuple[Figure | None, Figure | None]:
    """(bandwidth efficiency, fixed time per tensor) of the default AdamW."""
    res = _ok(bench, "adam")
    if res is None or not ref_gbs:
        return None, None
    rows = [r for r in res.rows if r.kind == "optimizer" and r.default_impl]
    if not rows:
        return None, None
    try:
        per_tensor, bw = fit_count_and_rate(
            [r.tensors for r in rows],
            [r.bytes_moved for r in rows],
            [r.time.median_s for r in rows],
        )
    except ValueError:
        per_tensor, bw = None, None
    if per_tensor is not None and bw is not None:
        sizes = ", ".join(f"{r.params:,} params / {r.tensors} tensors" for r in rows)
        eff = fig(
            min(MAX_EFFICIENCY, bw / 1e9 / ref_gbs),
            f"AdamW {rows[0].impl} (torch's default here): fit t = c·tensors + bytes/bw over "
            f"{sizes}: bw {bw / 1e9:.4g} GB/s / {ref_gbs:.4g} GB/s",
        )
        return eff, fig(per_tensor * 1e6, "c of the same fit, µs per parameter tensor")
    top = max(r.params for r in rows)
    row = max((r for r in rows if r.params == top), key=lambda r: r.gbs)
    return (
        fig(
            min(MAX_EFFICIENCY, row.gbs / ref_gbs),
            f"AdamW {row.impl} (torch's default here), {row.params:,} params: "
            f"{row.gbs:.4g} GB/s / {ref_gbs:.4g} GB/s",
        ),
        None,
    )


def backward_seconds(
    shape: dict[tuple[Any, ...], Any], key: tuple[Any, ...], forward: Any
) -> float | None:
    """The backward pass's time at one shape: measured alone where the results have it;
    in older results, forward+backward minus forward (None when that is not positive)."""
    alone = shape.get((*key, "backward"))
    if alone is not None:
        return float(alone.time.median_s)
    both = shape.get((*key, "forward_backward"))
    if both is not None and both.time.median_s > forward.time.median_s:
        return float(both.time.median_s - forward.time.median_s)
    return None


def attention_curves(
    bench: BenchFile, peak_tflops: dict[str, float], fig: _Figures
) -> tuple[dict[str, Curve], dict[str, Curve]]:
    """Forward and backward efficiency curves of the fused attention kernel, by dtype."""
    res = _ok(bench, "attention")
    if res is None:
        return {}, {}
    rows = [r for r in res.rows if r.kind == "attention" and r.impl == "sdpa"]
    if any(r.causal for r in rows):
        rows = [r for r in rows if r.causal]
    fwd: dict[str, Curve] = {}
    bwd: dict[str, Curve] = {}
    for dtype in sorted({r.dtype for r in rows}):
        peak = peak_tflops.get(dtype)
        if not peak:
            continue
        shape = {
            (r.batch, r.heads, r.seq_len, r.head_dim, r.causal, r.direction): r
            for r in rows
            if r.dtype == dtype
        }
        f_sizes, f_eff, b_sizes, b_eff = [], [], [], []
        for (b, a, s, d, causal, direction), r in shape.items():
            if direction != "forward":
                continue
            f_flops, per_head = r.flops, r.flops / (b * a)
            f_sizes.append(per_head)
            f_eff.append(f_flops / r.time.median_s / 1e12 / peak)
            t_bwd = backward_seconds(shape, (b, a, s, d, causal), r)
            if t_bwd is not None:
                b_sizes.append(per_head)
                b_eff.append(2 * f_flops / t_bwd / 1e12 / peak)
        what = "causal" if rows and rows[0].causal else "non-causal"
        for sizes, effs, out, name in (
            (f_sizes, f_eff, fwd, "forward"),
            (b_sizes, b_eff, bwd, "backward"),
        ):
            if not sizes:
                continue
            pts = curve_points(sizes, effs)
            out[dtype] = Curve(
                max_efficiency=fig(
                    pts[-1][1],
                    f"{dtype} sdpa {what} attention {name} at {pts[-1][0]:.3g} forward FLOPs "
                    f"per sequence and head / {peak:.4g} TFLOP/s",
                ),
                points=pts,
            )
    return fwd, bwd
