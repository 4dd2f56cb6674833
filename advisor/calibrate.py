"""Fit benchmark results into a `DeviceProfile`, and read profiles back.

What each profile field comes from (benchmarks/results.py rows):
- `matmul[dtype]`: efficiency = achieved FLOP/s / peak at each op size
  (2·m·n·k), the median over the shapes of one size; `max_efficiency` is the
  efficiency at the largest size measured, where the curve ends (Curve: beyond
  the last point the model uses `max_efficiency`). Peaks are the catalog's
  (for the local CPU: cores x clock x FLOPs/cycle from advisor/catalog/local_cpu.py);
  where the catalog has none, or the measurement beats it by more than the
  schema's 1.5, the best measured figure is the peak and the profile says so.
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
from advisor.catalog.schema import Accelerator, Curve, DeviceProfile, Figure, LinkProfile
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


def reference_peak(catalog_value: float | None, best: float) -> tuple[float, bool]:
    """The peak efficiencies refer to: the catalog's unless missing or beaten by more
    than the schema allows (then the best measured); and whether it is the catalog's."""
    if catalog_value and best / catalog_value <= MAX_EFFICIENCY:
        return catalog_value, True
    return best, False


# --- the profile ------------------------------------------------------------------------------


class _Figures:
    """Figures citing LOCAL-BENCH and the results file."""

    def __init__(self, results_name: str, as_of: dt.date) -> None:
        self.name, self.as_of = results_name, as_of

    def __call__(self, value: float, note: str, derived: bool = True) -> Figure:
        return Figure(
            value=significant(value),
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
            why = "no catalog peak" if catalog is None else f"beats catalog {catalog.value:.4g}"
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
        ref_fig = fig(
            ref,
            f"best measured {best.kernel} bandwidth, {best.bytes_moved:.3g} bytes "
            "moved (STREAM counting); memory efficiencies are relative to it",
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
    try:
        latency, bw = fit_latency_bandwidth(x, t)
    except ValueError as e:
        return None, f"collectives: {e}"
    world = rows[0].world_size
    best = max(r.busbw_gbs for r in rows)
    ops = ", ".join(sorted({r.op for r in rows}))
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


def optimizer_efficiency(bench: BenchFile, ref_gbs: float | None, fig: _Figures) -> Figure | None:
    res = _ok(bench, "adam")
    if res is None or not ref_gbs:
        return None
    rows = [r for r in res.rows if r.kind == "optimizer" and r.default_impl]
    if not rows:
        return None
    top = max(r.params for r in rows)
    row = max((r for r in rows if r.params == top), key=lambda r: r.gbs)
    return fig(
        min(MAX_EFFICIENCY, row.gbs / ref_gbs),
        f"AdamW {row.impl} (torch's default here), {row.params:,} params: "
        f"{row.gbs:.4g} GB/s / {ref_gbs:.4g} GB/s",
    )


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
    ):
        if _ok(bench, name) is None:
            warnings.append(f"no '{name}' results: the profile has no {what}")
    env = bench.env
    note = (
        f"advisor calibrate of {results_name} ({bench.created:%Y-%m-%d %H:%M} UTC): "
        f"{env.devices[0].name if env.devices else env.cpu_model}, torch {env.torch_version}, "
        f"{env.threads or '?'} CPU threads, {'quick' if bench.config.quick else 'full'} suite"
    )
    profile = DeviceProfile(
        id=f"{acc.id}-local-{day.isoformat()}",
        accelerator=acc.id,
        matmul=matmul,
        memory_bandwidth=mem,
        links={"intra_node": link} if link else {},
        peak_tflops=peaks,
        memory_bandwidth_gbs=mem_ref_fig,
        framework_overhead_gb=framework_overhead(bench, fig),
        optimizer_bandwidth_efficiency=optimizer_efficiency(bench, mem_ref, fig),
        notes=note,
    )
    return profile, warnings
