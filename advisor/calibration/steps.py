"""The training-step fit: the step model's fixed time per operator and its training
efficiency (in-step speed over the microbenchmarks' roofline), from the benchmarks'
real training steps, shared and one efficiency per precision."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from advisor.benchmarks.results import BenchFile
from advisor.calibration.fitting import SOURCE, _Figures, _ok
from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile, Figure, StepFit


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


def step_fits(
    bench: BenchFile, profile: DeviceProfile, catalog: Catalog, fig: _Figures
) -> tuple[Figure | None, Figure | None, dict[str, StepFit], str | None]:
    """(fixed time per modeled operator, training efficiency, the per-precision fit, why
    nothing was fitted) from the benchmarks' real training steps (`_step_design`, read
    once for both fits). The model is linear in both: t = rest + o·ops + work / e, with
    `ops` the operators it counts and `work` its roofline time of them, both read off the
    model with the profile so far; o and 1/e solve least squares on relative error
    (o >= 0); without allocator rows e stays 1."""
    got = _step_design(bench, profile, catalog)
    if got is None or isinstance(got, str):
        return None, None, {}, got
    d, rows, parts = got
    detail = "; ".join(parts)
    has_work = any(r.kind == "allocator" for r in rows)
    if has_work:
        o, (inv_e,) = _fit_overhead_and_efficiencies(d, [np.ones(len(rows), dtype=bool)])
    else:
        o = float(np.sum(d["ops"] * (d["t"] - d["rest"] - d["work"]) / d["t"] ** 2))
        o = max(0.0, o / float(np.sum((d["ops"] / d["t"]) ** 2)))
        inv_e = 1.0
    per_op = fig(o * 1e6, f"least squares over the benchmarks' training steps: {detail}")
    eff = None
    if has_work and inv_e > 0:
        eff = fig(
            1.0 / inv_e,
            "microbenchmark roofline time / in-step time of the same operators, from the same "
            f"fit: {detail}",
        )
    return per_op, eff, _fits_by_precision(d, rows, detail, fig), None


def _fits_by_precision(
    d: dict[str, np.ndarray], rows: list[Any], detail: str, fig: _Figures
) -> dict[str, StepFit]:
    """One training efficiency per precision, the per-operator time shared, where every
    precision the steps ran in has an allocator step: autocast's casts and bf16 kernels
    run at another speed against the microbenchmarks than fp32 (on this project's CPU
    0.64 against 0.83; one shared efficiency under-predicted validate's bf16 steps by
    20-50%). Empty otherwise (the shared fit stands)."""
    from advisor.validate import PRECISIONS

    names = sorted({r.precision for r in rows})
    with_work = {r.precision for r in rows if r.kind == "allocator"}
    if len(names) < 2 or set(names) != with_work:
        return {}
    masks = [np.array([r.precision == n for r in rows]) for n in names]
    o, inv = _fit_overhead_and_efficiencies(d, masks)
    if min(inv) <= 0:
        return {}
    per_op = fig(o * 1e6, f"least squares, one efficiency per precision: {detail}")
    return {
        PRECISIONS[n]: StepFit(
            kernel_overhead_us=per_op,
            training_efficiency=fig(1.0 / e, f"{n} steps of the same fit: {detail}"),
        )
        for n, e in zip(names, inv, strict=True)
    }
