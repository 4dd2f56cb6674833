"""Fit benchmark results into a `DeviceProfile`, and read profiles back.

What each profile field comes from (benchmarks/results.py rows):
- `matmul[dtype]`: efficiency = achieved FLOP/s / peak at each op size
  (2·m·n·k), the median over the shapes of one size; `max_efficiency` is the
  efficiency at the largest size measured, where the curve ends (Curve: beyond
  the last point the model uses `max_efficiency`). Peaks are the catalog's
  (for the local CPU: cores x clock x FLOPs/cycle from advisor/catalog/local_cpu.py);
  where the catalog has none, or the measurement beats it (a peak computed at a
  base or rated clock that the part runs above), the best measured figure is the
  peak, its note names the catalog's figure and clock, and so every efficiency
  is at most 1.
- `memory_bandwidth`: STREAM copy and triad, efficiency = GB/s / reference,
  the reference being the catalog's bandwidth or, where it has none (a CPU),
  the best measured copy/triad bandwidth at any size, put in `memory_bandwidth_gbs`.
- `links.intra_node`: t = latency + S·factor / busbw fitted over every
  collective (nccl-tests PERFORMANCE.md: factor 2(n-1)/n for all-reduce,
  (n-1)/n for all-gather and reduce-scatter), by least squares on relative
  error so small and large messages count alike.
- `optimizer_bandwidth_efficiency`: the AdamW implementation torch picks by
  default, at the largest size, as achieved GB/s / the memory reference.
- `framework_overhead_gb`: the `overhead` benchmark (peak memory of a tiny
  training process minus its tensors); the larger of its precisions.
- `optimizer_tensor_overhead_us`: with AdamW rows of two or more models (the
  `adam` benchmark's shapes differ in tensor count and size), t = c·tensors +
  bytes / bandwidth by least squares on relative error; the bandwidth it gives
  replaces the largest row's in `optimizer_bandwidth_efficiency`.
- `attention` / `attention_backward`: the fused kernel (`sdpa`) of the
  `attention` benchmark, causal rows where there are any, as efficiency against
  the dtype's matmul peak (the same peak `matmul` refers to), indexed by the
  forward FLOPs of one sequence and head (4·s²·d, halved when causal); backward
  timed alone (older results: forward+backward minus forward) at 2x forward FLOPs.
- `vector_rates`: per operator and dtype from the `elementwise` benchmark,
  t = a + (1 + b)·elements / rate over sizes (b = 2 for norm and activation,
  1 for the loss: the backward-to-forward ratio the step model uses), so the
  model's forward + backward of the op reproduces the measured one; casts
  t = a + elements / rate over both directions.
- `kernel_overhead_us` and `training_efficiency`: from the benchmarks' real
  training steps, of shapes `advisor validate` does not train: the `overhead`
  probe (a one-layer GPT whose step is almost all fixed per-operator cost) and
  the `allocator` runs (a mid-size GPT whose step is mostly arithmetic). The
  step model is linear in both, t = rest + o·operators + work / e, with the
  operator count and the roofline work read off the model itself; least
  squares on relative error gives o (at least 0) and e (1 without allocator
  rows).
- `first_touch_gbs` / `first_touch_min_bytes`: membw's `alloc` (allocate, fill
  and free a tensor) against `fill` (write an existing one): from the smallest
  size at which alloc takes more than 1.5x fill's time (every larger size too),
  the allocator maps tensors fresh; the extra time per byte at the largest size
  is the first-touch rate. None when no such size (a caching allocator).
- `allocator_slack`: the `allocator` benchmark: (peak memory - framework
  overhead - peak live tensors) / peak live tensors, the median over its shapes.
- `lora_allocator_slack`: the same of the `lora` benchmark's steps (frozen base,
  adapters), which free layer-sized temporaries that full training does not.

Pure numpy and pydantic: no torch.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from advisor.catalog import Catalog
from advisor.catalog.loader import describe_validation_error, read_profile, read_yaml
from advisor.catalog.schema import (
    Accelerator,
    Curve,
    DeviceProfile,
    Figure,
    LinkProfile,
    StepFit,
    VectorRates,
)
from advisor.errors import DataError, UsageError
from benchmarks.results import BenchFile, BenchResult, atomic_write_text

SOURCE = "LOCAL-BENCH"
MAX_EFFICIENCY = 1.5  # the schema's bound on any efficiency
CPU_BACKEND, CUDA_BACKEND = "gloo", "nccl"


# --- reading and writing --------------------------------------------------------------------


def read_results(path: Path) -> BenchFile:
    """A results file of `advisor bench`; errors name the file and field."""
    raw = _read_mapping(path, "results")
    try:
        return BenchFile.model_validate(raw)
    except ValidationError as e:
        raise DataError(describe_validation_error(path, e, raw)) from e


def load_profile(path: Path) -> DeviceProfile:
    """A device profile from JSON or YAML; the catalog loader's one implementation."""
    return read_profile(path)  # type: ignore[no-any-return]


def _read_mapping(path: Path, what: str) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: {what} file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a {what} file")
    return read_yaml(path)  # JSON is YAML: one safe loader for both


def dump_profile(profile: DeviceProfile, path: Path) -> str:
    """The profile as JSON (a .json path) or YAML (anything else)."""
    data = profile.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data = {"id": profile.id, "accelerator": profile.accelerator, **data}
    if Path(path).suffix == ".json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write_profile(profile: DeviceProfile, path: Path) -> None:
    atomic_write_text(Path(path), dump_profile(profile, path))


# --- fitting (pure) ----------------------------------------------------------------------------


def median_by_size(sizes: list[float], values: list[float]) -> list[tuple[float, float]]:
    """(size, median value) for each distinct size, ascending."""
    groups: dict[float, list[float]] = defaultdict(list)
    for s, v in zip(sizes, values, strict=True):
        groups[float(s)].append(float(v))
    return [(s, float(np.median(groups[s]))) for s in sorted(groups)]


def significant(x: float, digits: int = 5) -> float:
    """x rounded to `digits` significant figures (what a measurement supports)."""
    return float(f"{x:.{digits}g}")


def curve_points(sizes: list[float], efficiencies: list[float]) -> list[tuple[float, float]]:
    """Per-size medians, clipped into the schema's (0, 1.5]."""
    pts = median_by_size(sizes, efficiencies)
    return [(s, significant(min(MAX_EFFICIENCY, max(e, 1e-9)))) for s, e in pts if s > 0]


def fit_latency_bandwidth(x: list[float], t: list[float]) -> tuple[float, float]:
    """(latency s, bandwidth bytes/s) of t = latency + x / bandwidth.

    Least squares on relative error: minimise sum(((a + b·x - t) / t)^2), with
    a >= 0 (a negative intercept refits the slope through the origin)."""
    xs, ts = np.asarray(x, dtype=float), np.asarray(t, dtype=float)
    if len(xs) < 2 or np.any(ts <= 0) or np.ptp(xs) == 0:
        raise ValueError("need two or more sizes with positive times")
    w = 1.0 / ts
    design = np.stack([w, xs * w], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(ts), rcond=None)
    if a < 0:
        a, b = 0.0, float(np.sum(xs / ts) / np.sum((xs / ts) ** 2))
    if b <= 0:
        raise ValueError("time does not grow with size; cannot fit a bandwidth")
    return float(a), float(1.0 / b)


def fit_count_and_rate(counts: list[float], x: list[float], t: list[float]) -> tuple[float, float]:
    """(seconds per count, rate) of t = c·count + x / rate, least squares on relative
    error, with c >= 0 (a negative c refits the rate alone)."""
    ns, xs, ts = (np.asarray(v, dtype=float) for v in (counts, x, t))
    if len(xs) < 2 or np.any(ts <= 0):
        raise ValueError("need two or more measurements with positive times")
    design = np.stack([ns / ts, xs / ts], axis=1)
    if np.linalg.matrix_rank(design) < 2:
        raise ValueError("counts and sizes do not vary independently")
    (c, b), *_ = np.linalg.lstsq(design, np.ones_like(ts), rcond=None)
    if c < 0:
        c, b = 0.0, float(np.sum(xs / ts) / np.sum((xs / ts) ** 2))
    if b <= 0:
        raise ValueError("time does not grow with size; cannot fit a rate")
    return float(c), float(1.0 / b)


def reference_peak(catalog_value: float | None, best: float) -> tuple[float, bool]:
    """The peak efficiencies refer to: the catalog's unless missing or beaten by the
    measurement (then the best measured, so that no efficiency exceeds 1); and whether
    it is the catalog's."""
    if catalog_value and best <= catalog_value:
        return catalog_value, True
    return best, False


def _beats(catalog: Figure) -> str:
    """Why a measurement beat the catalog: the figure and, in its note, the clock it assumes."""
    basis = f" ({catalog.note})" if catalog.note else ""
    return (
        f"beats the catalog's {catalog.value:.4g}{basis}: the part runs faster than that "
        "figure assumes (a peak: above the clock it is computed at)"
    )


# --- the profile ------------------------------------------------------------------------------


class _Figures:
    """Figures citing LOCAL-BENCH and the results file."""

    def __init__(self, results_name: str, as_of: dt.date) -> None:
        self.name, self.as_of = results_name, as_of

    def __call__(
        self, value: float, note: str, derived: bool = True, exact: bool = False
    ) -> Figure:
        return Figure(
            value=float(value) if exact else significant(value),
            source=SOURCE,
            as_of=self.as_of,
            note=f"{note} ({self.name})",
            derived=derived,
        )


def _ok(bench: BenchFile, name: str) -> BenchResult | None:
    r = bench.result(name)
    return r if r is not None and r.status == "ok" and r.rows else None


def accelerator_for(bench: BenchFile, catalog: Catalog, override: str | None) -> Accelerator:
    """The catalog accelerator the results were measured on."""
    if override:
        return catalog.accelerator(override)
    env = bench.env
    if env.device == "cpu":
        from advisor.catalog.local_cpu import cpu_facts

        here = cpu_facts()
        if (env.cpu_model, env.cpu_cores_physical) != (here["model"], here["cores"]):
            raise DataError(
                f"results were measured on '{env.cpu_model}' ({env.cpu_cores_physical} cores), "
                f"not this machine's '{here['model']}' ({here['cores']} cores): the CPU's peak "
                "comes from the machine it runs on; calibrate there"
            )
        return catalog.accelerator("cpu")
    if not env.devices:
        raise DataError(f"results name no {env.device} device; pass --accelerator ID")
    name = env.devices[0].name
    for candidate in _name_candidates(name):
        try:
            return catalog.accelerator(candidate)
        except UsageError:
            continue
    raise DataError(f"no catalog accelerator matches the device '{name}'; pass --accelerator ID")


def _name_candidates(name: str) -> list[str]:
    """'NVIDIA H100 80GB HBM3' -> itself, without the vendor, and shorter prefixes."""
    words = name.replace("_", " ").split()
    for vendor in ("NVIDIA", "Tesla", "AMD", "Instinct", "GeForce", "Radeon"):
        if words and words[0].lower() == vendor.lower():
            words = words[1:]
    out = [name, " ".join(words)]
    out += [" ".join(words[:i]) for i in range(len(words) - 1, 0, -1)]
    return [c for c in out if c]


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
    # modelled as tensors of their own); other precisions' runs are there for step_fit.
    rows = [r for r in rows if r.precision == "fp32"] or rows
    if not rows:
        return None
    oh = overhead_gb.value * 1e9
    each = [max(0.0, (r.peak_bytes - oh - r.allocated_bytes) / r.allocated_bytes) for r in rows]
    detail = ", ".join(
        f"{r.model.name}: peak {r.peak_bytes / 2**20:.1f} MiB, live {r.allocated_bytes / 2**20:.1f}"
        for r in rows
    )
    return fig(
        float(np.median(each)),
        f"(peak - framework overhead {oh / 2**20:.1f} MiB - live tensors) / live tensors, "
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
    oh = overhead_gb.value * 1e9
    each = [max(0.0, (r.peak_bytes - oh - r.allocated_bytes) / r.allocated_bytes) for r in rows]
    detail = ", ".join(
        f"{r.model.name} {r.model.layers}L-{r.model.hidden} seq {r.model.seq_len} batch "
        f"{r.model.batch} rank {r.rank} {r.precision}: peak {r.peak_bytes / 2**20:.1f} MiB, "
        f"live {r.allocated_bytes / 2**20:.1f}"
        for r in rows
    )
    return fig(
        float(np.median(each)),
        f"LoRA steps: (peak - framework overhead {oh / 2**20:.1f} MiB - live tensors) / live "
        f"tensors, median of {len(rows)}: {detail}",
    )


def _step_design(
    bench: BenchFile, profile: DeviceProfile, catalog: Catalog
) -> tuple[dict[str, np.ndarray], list[Any], list[str]] | str | None:
    """The benchmarks' real training steps, each split by the model into what does not
    scale with the two in-step figures (`rest`), its operator count (`ops`) and its
    roofline work (`work`), with the measured time `t`: the `overhead` probe (almost all
    per-operator cost) and the `allocator` runs (mostly arithmetic), shapes `advisor
    validate` does not train. None without a timed probe; a message if the model fails."""
    from advisor.errors import AdvisorError
    from advisor.validate import PRECISIONS, hardware, predict

    res = _ok(bench, "overhead")
    rows: list[Any] = [r for r in res.rows if r.kind == "overhead" and r.time] if res else []
    rows = [r for r in rows if r.precision in PRECISIONS]
    if not rows:  # the probe is what pins the per-operator time
        return None
    alloc = _ok(bench, "allocator")
    steps = [r for r in alloc.rows if r.kind == "allocator"] if alloc else []
    rows += [r for r in steps if r.precision in PRECISIONS]
    one_s = Figure(value=1e6, source=SOURCE, as_of=dt.date.today())  # t(1) - t(0): ops
    half = Figure(value=0.5, source=SOURCE, as_of=dt.date.today())  # t(e/2) - t(e): work
    design, parts = [], []
    try:
        hw0 = hardware(catalog, profile)
        hw_o = hardware(catalog, profile.model_copy(update={"kernel_overhead_us": one_s}))
        hw_e = hardware(catalog, profile.model_copy(update={"training_efficiency": half}))
        for r in rows:
            t0 = predict(r.model, r.precision, hw0).step_time_s
            ops = predict(r.model, r.precision, hw_o).step_time_s - t0
            work = predict(r.model, r.precision, hw_e).step_time_s - t0
            t = r.time.median_s
            design.append((t0 - work, ops, work, t))
            parts.append(
                f"{r.model.name} {r.precision} {t * 1e3:.4g} ms measured, model without "
                f"{t0 * 1e3:.4g} ms ({ops:.0f} operators)"
            )
    except AdvisorError as e:
        return f"per-operator time not fitted: {e}"
    cols = (np.asarray(c, dtype=float) for c in zip(*design, strict=True))
    return dict(zip(("rest", "ops", "work", "t"), cols, strict=True)), rows, parts


def _fit_overhead_and_efficiencies(
    d: dict[str, np.ndarray], groups: list[np.ndarray]
) -> tuple[float, list[float]]:
    """o (s per operator, >= 0) and one 1/e per group of rows (boolean masks), least
    squares on relative error of t = rest + o·ops + work / e."""
    t = d["t"]
    y = (t - d["rest"]) / t
    work = [d["work"] / t * g for g in groups]
    sol, *_ = np.linalg.lstsq(np.stack([d["ops"] / t, *work], axis=1), y, rcond=None)
    if sol[0] >= 0:
        return float(sol[0]), [float(x) for x in sol[1:]]
    # No negative fixed time: refit the efficiencies alone.
    inv, *_ = np.linalg.lstsq(np.stack(work, axis=1), y, rcond=None)
    return 0.0, [float(x) for x in inv]


def step_fit(
    bench: BenchFile, profile: DeviceProfile, catalog: Catalog, fig: _Figures
) -> tuple[Figure | None, Figure | None, str | None]:
    """(fixed time per modeled operator, training efficiency) from the benchmarks' real
    training steps (`_step_design`). The model is linear in both: t = rest + o·ops +
    work / e, with `ops` the operators it counts and `work` its roofline time of them,
    both read off the model with the profile so far; o and 1/e solve least squares on
    relative error (o >= 0); without allocator rows e stays 1."""
    got = _step_design(bench, profile, catalog)
    if got is None or isinstance(got, str):
        return None, None, got
    d, rows, parts = got
    has_work = any(r.kind == "allocator" for r in rows)
    if has_work:
        o, (inv_e,) = _fit_overhead_and_efficiencies(d, [np.ones(len(rows), dtype=bool)])
    else:
        o = float(np.sum(d["ops"] * (d["t"] - d["rest"] - d["work"]) / d["t"] ** 2))
        o = max(0.0, o / float(np.sum((d["ops"] / d["t"]) ** 2)))
        inv_e = 1.0
    detail = "; ".join(parts)
    per_op = fig(o * 1e6, f"least squares over the benchmarks' training steps: {detail}")
    eff = None
    if has_work and inv_e > 0:
        eff = fig(
            1.0 / inv_e,
            "microbenchmark roofline time / in-step time of the same operators, from the same "
            f"fit: {detail}",
        )
    return per_op, eff, None


def step_fits_by_precision(
    bench: BenchFile, profile: DeviceProfile, catalog: Catalog, fig: _Figures
) -> dict[str, StepFit]:
    """One training efficiency per precision, the per-operator time shared, where every
    precision the steps ran in has an allocator step: autocast's casts and bf16 kernels
    run at another speed against the microbenchmarks than fp32 (on this project's CPU
    0.64 against 0.83; one shared efficiency under-predicted validate's bf16 steps by
    20-50%). Empty otherwise (the shared fit stands)."""
    from advisor.validate import PRECISIONS

    got = _step_design(bench, profile, catalog)
    if got is None or isinstance(got, str):
        return {}
    d, rows, parts = got
    names = sorted({r.precision for r in rows})
    with_work = {r.precision for r in rows if r.kind == "allocator"}
    if len(names) < 2 or set(names) != with_work:
        return {}
    masks = [np.array([r.precision == n for r in rows]) for n in names]
    o, inv = _fit_overhead_and_efficiencies(d, masks)
    if min(inv) <= 0:
        return {}
    detail = "; ".join(parts)
    per_op = fig(o * 1e6, f"least squares, one efficiency per precision: {detail}")
    return {
        PRECISIONS[n]: StepFit(
            kernel_overhead_us=per_op,
            training_efficiency=fig(1.0 / e, f"{n} steps of the same fit: {detail}"),
        )
        for n, e in zip(names, inv, strict=True)
    }


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


def calibrate(
    bench: BenchFile,
    catalog: Catalog,
    results_name: str,
    accelerator: str | None = None,
) -> tuple[DeviceProfile, list[str]]:
    """The device profile these results support, and warnings about what is missing."""
    acc = accelerator_for(bench, catalog, accelerator)
    day = bench.created.date()
    fig = _Figures(results_name, day)
    warnings: list[str] = []
    matmul, peaks = matmul_curves(bench, acc, fig)
    mem, mem_ref_fig, mem_ref = memory_curve(bench, acc, fig)
    link, link_warning = link_profile(bench, fig)
    if link_warning:
        warnings.append(link_warning)
    for name, what in (
        ("matmul", "matmul curves"),
        ("membw", "memory curve"),
        ("collectives", "link"),
        ("adam", "optimizer efficiency"),
        ("overhead", "framework overhead"),
        ("attention", "attention curves"),
        ("elementwise", "elementwise rates"),
        ("allocator", "allocator slack"),
    ):
        if _ok(bench, name) is None:
            warnings.append(f"no '{name}' results: the profile has no {what}")
    env = bench.env
    note = (
        f"advisor calibrate of {results_name} ({bench.created:%Y-%m-%d %H:%M} UTC): "
        f"{env.devices[0].name if env.devices else env.cpu_model}, torch {env.torch_version}, "
        f"{env.threads or '?'} CPU threads, {'quick' if bench.config.quick else 'full'} suite"
    )
    peak_values = {d: f.value for d, f in acc.peak_tflops.items()}
    peak_values.update({d: f.value for d, f in peaks.items()})
    attention, attention_bwd = attention_curves(bench, peak_values, fig)
    overhead_gb = framework_overhead(bench, fig)
    opt_eff, opt_tensor = optimizer_efficiency(bench, mem_ref, fig)
    touch_gbs, touch_min = first_touch(bench, fig)
    profile = DeviceProfile(
        id=f"{acc.id}-local-{day.isoformat()}",
        accelerator=acc.id,
        matmul=matmul,
        memory_bandwidth=mem,
        links={"intra_node": link} if link else {},
        peak_tflops=peaks,
        memory_bandwidth_gbs=mem_ref_fig,
        framework_overhead_gb=overhead_gb,
        optimizer_bandwidth_efficiency=opt_eff,
        attention=attention,
        attention_backward=attention_bwd,
        vector_rates=vector_rates(bench, fig),
        optimizer_tensor_overhead_us=opt_tensor,
        allocator_slack=allocator_slack(bench, overhead_gb, fig),
        lora_allocator_slack=lora_allocator_slack(bench, overhead_gb, fig),
        first_touch_gbs=touch_gbs,
        first_touch_min_bytes=touch_min,
        notes=note,
    )
    if matmul:  # the step model needs a matmul curve to predict a training step
        unfitted = profile
        per_op, eff, why = step_fit(bench, profile, catalog, fig)
        if why:
            warnings.append(why)
        if per_op is not None:
            profile = profile.model_copy(
                update={"kernel_overhead_us": per_op, "training_efficiency": eff}
            )
            by_precision = step_fits_by_precision(bench, unfitted, catalog, fig)
            profile = profile.model_copy(update={"step_fit_by_precision": by_precision})
    return profile, warnings
