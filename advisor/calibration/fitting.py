"""Pure fits shared by every profile field (medians by size, latency + bandwidth, count
+ rate, reference peaks) and the figures they make, citing the results file."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np

from advisor.benchmarks.results import BenchFile, BenchResult
from advisor.catalog import Catalog
from advisor.catalog.schema import Accelerator, Figure
from advisor.errors import DataError, UsageError

SOURCE = "LOCAL-BENCH"
MAX_EFFICIENCY = 1.5  # the schema's bound on any efficiency
CPU_BACKEND, CUDA_BACKEND = "gloo", "nccl"


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
    return _intercept_and_rate(a, b, xs, ts, "a bandwidth")


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
    return _intercept_and_rate(c, b, xs, ts, "a rate")


def _intercept_and_rate(
    c: float, b: float, xs: np.ndarray, ts: np.ndarray, what: str
) -> tuple[float, float]:
    """(c, 1/b) of a relative-error fit of t = c·u + b·x: a negative c refits the slope
    alone through the origin (least squares of b·x/t against 1)."""
    if c < 0:
        c, b = 0.0, float(np.sum(xs / ts) / np.sum((xs / ts) ** 2))
    if b <= 0:
        raise ValueError(f"time does not grow with size; cannot fit {what}")
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
