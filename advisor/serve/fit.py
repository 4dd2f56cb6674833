"""Engine efficiencies fitted on the published serving rows, cross-validated leave one
source out, with the napkin beside every prediction: decode at the spec memory
bandwidth, one read of the weights per step, at the batch the model runs (so the
napkin's error is the time rule's alone); TTFT as the prompt's FLOPs at the dense peak.

Each engine has three numbers: a_mem and a_cmp scale the memory and compute rooflines
of a step, step_overhead_s adds a fixed time per step (the host-side scheduler, the
sampler and launches; it is what keeps vLLM 0.5.4 at ~18 ms per token on 8 H100s),
and a_ttft scales time to first token. They minimise the mean |log(predicted /
measured)| over every published throughput and TPOT, each value weighing the same
(a_ttft: the geometric mean of measured/predicted TTFT), over a grid, on the
engine's rows, or on every engine's rows where the engine
has fewer than MIN_ROWS. A row's cross-validated prediction uses the numbers fitted
without its own source (document). The all-rows fit and the CV residual percentiles
ship as advisor/data/serve_fit.yaml for `advisor serve`:

    python -m advisor.serve.fit --write
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any

import numpy as np

from advisor.catalog import Catalog, load_catalog
from advisor.hardware import resolve_hardware
from advisor.model.params import count_params
from advisor.model.presets import preset
from advisor.serve.engines import find_engine
from advisor.serve.estimate import configs
from advisor.serve.fitted import FIT_FILE
from advisor.serve.hardware import serve_device
from advisor.serve.runs import ServeRow, load_rows
from advisor.serve.score import score
from advisor.serve.spec import BYTES, ServeSpec
from advisor.serve.time import Rates

MIN_ROWS = 3
MEM_GRID = np.geomspace(0.6, 2.5, 9)  # a_mem
DEC_GRID = np.geomspace(0.7, 2.8, 6)  # a_cmp
PRE_GRID = np.geomspace(0.8, 3.2, 8)  # a_pre
T0_GRID = np.array([0.0, 1, 4, 12]) * 1e-3
TSEQ_GRID = np.array([0.0, 20, 60, 150, 300]) * 1e-6
# Sequences per step where the engine's own limit is not sourced (fitted; 0 = none).
CAP_GRID = (0, 2048, 1024, 512, 256, 128)
METRICS = ("throughput", "tpot", "ttft")


def _grid() -> tuple[np.ndarray, ...]:
    cap = np.asarray(CAP_GRID, dtype=float)
    g = np.meshgrid(MEM_GRID, DEC_GRID, PRE_GRID, T0_GRID, TSEQ_GRID, cap, indexing="ij")
    return tuple(x.ravel() for x in g)


def row_spec(row: ServeRow) -> ServeSpec:
    return ServeSpec(
        input_len=row.input_len,
        output_len=row.output_len,
        concurrency=row.load if row.mode == "concurrency" else None,
        rate=row.load if row.mode == "rate" else None,
        weight_precision=row.weights,  # type: ignore[arg-type]
        kv_precision=row.kv,  # type: ignore[arg-type]
        tp=row.tp,
        engine=row.engine,
    )


def predict_row(row: ServeRow, cat: Catalog) -> dict[str, Any]:
    """Predicted throughput, TPOT, TTFT (arrays over the grid) and the napkin."""
    a, c, pr, t, q, k = _grid()
    eng = find_engine(row.engine)
    out: dict[str, Any] = {m: np.empty_like(a) for m in (*METRICS, "batch")}
    caps = [0.0] if eng.max_seqs else sorted(set(k))
    for cap in caps:
        sel = k == cap if not eng.max_seqs else np.ones_like(a, bool)
        p = _predict(row, cat, a[sel], c[sel], pr[sel], t[sel], q[sel], cap or None)
        for m in (*METRICS, "batch"):
            out[m][sel] = p[m]
        out["napkin"], out["memory"] = p["napkin"], p["memory"]
    return out


def napkin(row: ServeRow, p: dict[str, Any], i: int, metric: str) -> float:
    """The napkin at the batch the model runs (grid point i): each step reads the weights
    once at the spec bandwidth, nothing else; at a given rate, throughput is the rate."""
    n = p["napkin"]
    if metric != "throughput":
        return float(n[metric])
    if row.mode == "rate":
        return float(n["rate_throughput"])
    return float(p["batch"][i]) * n["replicas"] / n["tpot"]


def _predict(
    row: ServeRow,
    cat: Catalog,
    a_mem: Any,
    a_cmp: Any,
    a_pre: Any,
    t0: Any,
    tseq: Any,
    cap: float | None,
) -> dict[str, Any]:
    spec = preset(row.model)
    hw = resolve_hardware(cat, row.accelerator, row.devices, None, None)
    s = row_spec(row)
    eng = find_engine(row.engine)
    sd = serve_device(cat, hw, s.weight_precision, s.kv)
    base = configs(sd, s, hw, eng, None)
    r = base.rates
    rates = Rates(
        r.bandwidth, r.flops, r.bus_bandwidth, r.latency, a_mem, a_cmp, t0, tseq, a_pre, r.slowdown
    )
    c = base.__class__(**{**base.__dict__, "rates": rates, "a_ttft": 1.0})
    counts = count_params(spec)
    seqs = None if row.static else (eng.max_seqs.value if eng.max_seqs else cap)
    sc = score(
        spec,
        counts,
        c,
        s.input_len,
        s.output_len,
        row.mode,
        row.load,
        seqs,
        eng.max_batched_tokens.value,
    )
    # Napkin: decode at the spec memory bandwidth, one read of the weights per step.
    bw = sd.dev.memory_bandwidth
    w_dev = counts.total * BYTES[s.weight_precision] / s.tp
    step = w_dev / bw
    n_ttft = 2.0 * counts.matmul_active * s.input_len / (s.tp * sd.dev.peak(sd.compute))
    mem = float(sc.weights + sc.kv_per_token * (s.input_len + s.output_len) + sc.overhead)
    return {
        "throughput": np.asarray(sc.output_tokens_per_s, dtype=float),
        "tpot": np.asarray(sc.point.tpot, dtype=float),
        "ttft": np.asarray(sc.point.ttft, dtype=float),
        "batch": np.broadcast_to(np.asarray(sc.point.batch, dtype=float), np.shape(a_mem)),
        "napkin": {
            "tpot": step,
            "ttft": n_ttft,
            "replicas": hw.devices / s.tp,
            "rate_throughput": (row.load or 0.0) * s.output_len,
        },
        "memory": mem,
    }


def measured(row: ServeRow, metric: str) -> float | None:
    return {"throughput": row.throughput, "tpot": row.tpot_s, "ttft": row.ttft_s}[metric]


@functools.lru_cache(maxsize=1)
def grid_predictions() -> tuple[tuple[ServeRow, ...], dict[str, dict[str, Any]], dict[str, str]]:
    """Every row predicted at every grid point once (the folds reuse them)."""
    cat = load_catalog()
    rows, skipped = load_rows()
    skipped = dict(skipped)
    preds, kept = {}, []
    for row in rows:
        try:
            preds[row.id] = predict_row(row, cat)
        except Exception as e:
            skipped[row.id] = f"not predictable: {str(e).splitlines()[0]}"
            continue
        kept.append(row)
    return tuple(kept), preds, skipped


def _log_err(pred: np.ndarray, meas: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.abs(np.log(pred / meas))
    return np.where(np.isfinite(e), e, 5.0)


def fit_on(
    rows: list[ServeRow],
    preds: dict[str, Any],
    ttft_pool: list[ServeRow] | None = None,
    host: bool = True,
) -> dict[str, Any]:
    """Grid point minimising mean |log error| over the rows' throughputs and TPOTs
    (each value weighs the same); then a_ttft, on these rows' TTFTs, or the pool's
    (every engine's) where they are fewer than MIN_ROWS.
    host False: no host time per step or per sequence (an engine fitted on other
    engines' rows: their schedulers' host time is theirs, not this engine's)."""
    a, c, pr, t, q, k = _grid()
    loss = np.where(host | ((t == 0) & (q == 0)), 0.0, np.inf)
    # Every measured value weighs the same. Weighing each metric the same instead gave
    # the few TPOT rows (for TRT-LLM: one table, v0.14 online) as much say as all the
    # throughput rows together, so one campaign's latencies set the efficiencies that
    # every other campaign is predicted with.
    part = [(r, m, measured(r, m)) for m in ("throughput", "tpot") for r in rows]
    part = [(r, m, v) for r, m, v in part if v is not None]
    for row, m, v in part:
        loss = loss + _log_err(preds[row.id][m], v) / len(part)
    n = len(part)
    i = (
        int(np.argmin(loss))
        if n
        else int(np.argmin(np.abs(a - 1) + np.abs(c - 1) + np.abs(pr - 1) + t + q + k))
    )

    def ttft_logs(pool: list[ServeRow]) -> list[float]:
        return [
            math.log(measured(r, "ttft") / float(preds[r.id]["ttft"][i]))  # type: ignore[operator]
            for r in pool
            if measured(r, "ttft") is not None and math.isfinite(float(preds[r.id]["ttft"][i]))
        ]

    logs = ttft_logs(rows)
    if len(logs) < MIN_ROWS and ttft_pool is not None:
        logs = ttft_logs(ttft_pool)
    a_ttft = math.exp(sum(logs) / len(logs)) if logs else 1.0
    return {
        "a_mem": round(float(a[i]), 4),
        "a_cmp": round(float(c[i]), 4),
        "a_pre": round(float(pr[i]), 4),
        "step_overhead_s": round(float(t[i]), 6),
        "seq_overhead_s": round(float(q[i]), 7),
        "max_seqs": int(k[i]) or None,
        "a_ttft": round(a_ttft, 4),
        "index": i,
        "rows": len(rows),
        "ttft_rows": len(logs),
    }


def fit_group(engine: str) -> str:
    """The engine whose rows fit this one's factors: itself, or the engine it is sourced
    relative to (vLLM 0.5: vLLM 0.6 times the step ratio)."""
    return find_engine(engine).relative_to or engine


def _train(rows: tuple[ServeRow, ...], engine: str, source: str | None) -> tuple[list, str]:
    """The engine's rows (or its base engine's) from other sources, else every engine's."""
    engine = fit_group(engine)
    other = [r for r in rows if r.source != source]
    own = [r for r in other if fit_group(r.engine) == engine]
    if sum(measured(r, m) is not None for r in own for m in ("throughput", "tpot")) >= MIN_ROWS:
        return own, engine
    return other, "all"


def cross_validate() -> dict[str, Any]:
    rows, preds, skipped = grid_predictions()
    fits: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    checks = []
    for row in rows:
        key = (row.engine, row.source)
        if key not in fits:
            train, group = _train(rows, row.engine, row.source)
            pool = [r for r in rows if r.source != row.source]
            fits[key] = (fit_on(train, preds, pool, host=group != "all"), group)
        f, group = fits[key]
        p = preds[row.id]
        for m in METRICS:
            v = measured(row, m)
            if v is None:
                continue
            pred = float(p[m][f["index"]]) * (f["a_ttft"] if m == "ttft" else 1.0)
            nap = napkin(row, p, f["index"], m)
            checks.append(
                {
                    "id": row.id,
                    "source": row.source,
                    "engine": row.engine,
                    "accelerator": row.accelerator,
                    "metric": m,
                    "measured": v,
                    "predicted": pred,
                    "error": pred / v - 1.0,
                    "napkin": nap,
                    "napkin_error": nap / v - 1.0,
                    "fitted_on": group,
                    "lengths_assumed": row.lengths_assumed,
                }
            )
    memory = []
    for row in rows:
        if row.memory_bytes is not None:
            pm = preds[row.id]["memory"]
            memory.append(
                {
                    "id": row.id,
                    "measured": row.memory_bytes,
                    "predicted": pm,
                    "error": pm / row.memory_bytes - 1.0,
                }
            )
    return {"checks": checks, "memory": memory, "not_checked": skipped}


def _stats(errors: list[float]) -> dict[str, float]:
    a = np.abs(np.asarray(errors, dtype=float))
    if not len(a):
        return {"n": 0}
    return {
        "n": len(a),
        "median_abs_error": float(np.median(a)),
        "p90_abs_error": float(np.percentile(a, 90)),
    }


def summary(checks: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in METRICS:
        part = [c for c in checks if c["metric"] == m]
        out[m] = {
            "cv": _stats([c["error"] for c in part]),
            "napkin": _stats([c["napkin_error"] for c in part]),
        }
        by: dict[str, Any] = {}
        for key in ("engine", "source"):
            groups = sorted({c[key] for c in part})
            by[key] = {
                g: {
                    "cv": _stats([c["error"] for c in part if c[key] == g]),
                    "napkin": _stats([c["napkin_error"] for c in part if c[key] == g]),
                }
                for g in groups
            }
        out[m]["by"] = by
    return out


def ranges(checks: list[dict[str, Any]], memory: list[dict[str, Any]]) -> dict[str, Any]:
    """10th-90th percentile of measured/predicted per metric (cross-validated)."""
    out = {}
    for m in METRICS:
        ratios = [c["measured"] / c["predicted"] for c in checks if c["metric"] == m]
        if ratios:
            out[m] = {
                "p10": round(float(np.percentile(ratios, 10)), 4),
                "p90": round(float(np.percentile(ratios, 90)), 4),
                "n": len(ratios),
            }
    if memory:
        ratios = [x["measured"] / x["predicted"] for x in memory]
        out["memory"] = {
            "p10": round(min(1.0, float(np.percentile(ratios, 10))), 4),
            "p90": round(max(1.0, float(np.percentile(ratios, 90))), 4),
            "n": len(ratios),
            "note": "batch-1 generation rows (litgpt); not fitted",
        }
    return out


def fit_document() -> dict[str, Any]:
    rows, preds, _ = grid_predictions()
    factors: dict[str, Any] = {}
    engines = sorted({r.engine for r in rows})
    for e in [*engines, "all"]:
        train, group = _train(rows, e, None) if e != "all" else (list(rows), "all")
        if e != "all" and group == "all":
            continue
        f = fit_on(train, preds, list(rows))
        f.pop("index")
        f["group"] = e
        f["sources"] = sorted({r.source for r in train})
        factors[e] = f
    cv = cross_validate()
    return {
        "note": "written by `python -m advisor.serve.fit --write`; engine factors fitted on "
        "advisor/data/inference_runs.csv (all rows of the engine, else all rows); ranges: "
        "10th-90th percentile of measured/predicted, cross-validated leave one source out",
        "factors": factors,
        "ranges": ranges(cv["checks"], cv["memory"]),
        "summary": {m: v["cv"] for m, v in summary(cv["checks"]).items()},
    }


def main() -> None:
    import yaml

    doc = fit_document()
    text = yaml.safe_dump(doc, sort_keys=False, width=100)
    if "--write" in sys.argv:
        from advisor.report.render import write_atomic

        write_atomic(FIT_FILE, text)
        print(f"wrote {FIT_FILE}")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
