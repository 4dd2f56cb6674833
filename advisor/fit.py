"""Fit an accelerator's framework-level efficiency on published measured runs.

Why: microbenchmark peaks (MAMF) are what one large GEMM reaches; a training step
runs hundreds of smaller kernels with framework overheads. Where published runs
measure a device, we fit three numbers of its profile to them — the large-size
matmul efficiency e, the op size F0 at which matmul efficiency halves
(eff(F) = e·F/(F + F0)), and the achieved fraction of memory bandwidth for
elementwise work — and report the error on the runs that were not used.

    python -m advisor.fit            # prints the fitted profile entry for profiles.yaml
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable

import numpy as np

from advisor.accuracy import FIT_ROWS, Check, checkable, framework_device, predict
from advisor.catalog import load_catalog
from advisor.model.device import DeviceModel, EfficiencyCurve

CURVE_SIZES = tuple(10.0**k for k in range(6, 14))


def curve_points(e: float, f0: float) -> list[tuple[float, float]]:
    return [(f, e * f / (f + f0)) for f in CURVE_SIZES]


def apply(dev: DeviceModel, e: float, f0: float, mem: float) -> DeviceModel:
    pts = curve_points(e, f0)
    curve = EfficiencyCurve(e, tuple(p[0] for p in pts), tuple(p[1] for p in pts))
    return dataclasses.replace(
        dev,
        matmul={k: curve for k in ("fp16", "bf16")},
        memory_efficiency=EfficiencyCurve(mem),
        optimizer_efficiency=mem,
    )


def loss(params: tuple[float, float, float], rows: list, base: dict) -> float:
    e, log_f0, mem = params
    errs = [
        math.log1p(predict(r, dev=apply(base[r.id], e, 10**log_f0, mem)).error) ** 2 for r in rows
    ]
    return float(np.mean(errs))


def _golden(f: Callable[[float], float], lo: float, hi: float, iters: int = 18) -> float:
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (a + b) / 2


def fit(rows_ids: tuple[str, ...] = FIT_ROWS) -> tuple[tuple[float, float, float], list[Check]]:
    """Coordinate descent over (e, log10 F0, memory efficiency)."""
    cat = load_catalog()
    runs = {r.id: r for r in checkable()}
    rows = [runs[i] for i in rows_ids]
    base = {
        r.id: framework_device(cat, r, profile_id="a100-sxm4-80gb-published") for r in runs.values()
    }
    x = [0.75, 10.0, 0.6]
    bounds = [(0.3, 1.0), (7.0, 12.5), (0.1, 1.0)]
    for _ in range(3):
        for k in range(3):

            def f(v: float, k: int = k) -> float:
                y = list(x)
                y[k] = v
                return loss(tuple(y), rows, base)  # type: ignore[arg-type]

            x[k] = _golden(f, *bounds[k])
    e, log_f0, mem = x
    checks = [predict(r, dev=apply(base[r.id], e, 10**log_f0, mem)) for r in runs.values()]
    return (e, 10**log_f0, mem), checks


FIT_PROFILE_ID = "a100-sxm4-80gb-fit"


def profile_yaml(e: float, f0: float, mem: float) -> str:
    """The profiles.yaml entry for the fitted values; its `links` are copied by hand
    from the published profile, which measured them."""
    note = (
        f"advisor.fit: e={e:.4f}, F0={f0:.4g} FLOP, eff(F) = e*F/(F+F0); rows {', '.join(FIT_ROWS)}"
    )
    fig = '{{value: {v}, source: FIT-PUBLISHED, as_of: 2026-12-01, derived: true, note: "{n}"}}'
    pts = ", ".join(f"[{f:.0e}, {v:.4f}]" for f, v in curve_points(e, f0))
    curve = (
        f"        max_efficiency: {fig.format(v=round(e, 4), n=note)}\n        points: [{pts}]\n"
    )
    mem_fig = fig.format(
        v=round(mem, 4), n="fitted elementwise and optimizer fraction of bandwidth"
    )
    return (
        f"  - id: {FIT_PROFILE_ID}\n    accelerator: a100-sxm4-80gb\n    matmul:\n"
        f"      bf16:\n{curve}      fp16:\n{curve}"
        f"    memory_bandwidth:\n      max_efficiency: {mem_fig}\n"
        f"    optimizer_bandwidth_efficiency: {mem_fig}\n"
    )


def main() -> None:
    (e, f0, mem), checks = fit()
    for c in checks:
        tag = "fit " if c.id in FIT_ROWS else "held"
        sys.stderr.write(f"{tag} {c.id:28s} {c.error:+.1%}\n")
    sys.stdout.write(profile_yaml(e, f0, mem))


if __name__ == "__main__":
    main()
