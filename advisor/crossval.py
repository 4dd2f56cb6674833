"""Leave-one-source-out cross-validation of the step-time model on the published runs.

Each checkable row (advisor/runs.py) gets a *base* prediction: the analytic model
with its stack's conventions and no fitted correction. The fitted part is one
multiplicative time factor per (stack, accelerator family): the geometric mean g of
measured/predicted step time over the training rows of that group, falling back to
the stack (any family), the family (any stack), then all rows, when a group has fewer
than MIN_ROWS; the factor is g**w, shrunk toward the analytic model (w = 0) because a
group's rows come from few sources. A row's cross-validated prediction uses the factor
fitted on every *other* source's steady-state rows; because the factor is post hoc,
the base predictions are computed once and reused for every fold. The one scalar w is
chosen from SHRINK_WEIGHTS by the same leave-one-source-out median error (said
wherever the error is reported).

The all-rows fit and the CV residual percentiles are shipped as data
(advisor/data/stack_fit.yaml) for `estimate`/`recommend` (advisor/fitted.py):

    python -m advisor.crossval --write
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
from pydantic import BaseModel

from advisor.catalog import Catalog, load_catalog
from advisor.errors import AdvisorError
from advisor.hardware import node_network, resolve_hardware
from advisor.layout import LayoutChoice
from advisor.model.device import device_model
from advisor.model.flops import model_flops_per_token
from advisor.model.memory import GIB
from advisor.model.spec import TrainingSpec
from advisor.runs import Run, load_runs
from advisor.search import enumerate_plans, plan_fields, score

MIN_ROWS = 3  # a group's own factor needs this many training rows
SHRINK_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # candidates for w in factor = g**w
RANGE_MIN_ROWS = 5  # a group's own residual range needs this many rows (issue 10)
NAPKIN_MFU = 0.45  # the "assume 45% MFU" rule of thumb (issue 10)
DEVICES_PER_NODE = {"tpu": 4}  # chips per host; GPUs default to 8


class RowId(BaseModel):
    """Which published row, what it measured and how it is grouped."""

    id: str
    source: str
    stack: str
    family: str
    accelerator: str
    metric: str
    measured: float


class BasePrediction(RowId):
    """The model's prediction of one row with no fitted factor."""

    base: float  # predicted, in the row's metric
    ratio: float  # measured step time / predicted step time (the factor a row asks for)
    napkin: float  # 45%-MFU prediction, in the row's metric
    whole_run: bool
    plan: dict[str, Any]


class CvRow(RowId):
    """A row predicted with the factor fitted without its own source."""

    predicted: float
    error: float  # predicted / measured - 1
    napkin: float
    napkin_error: float
    factor: float
    factor_group: str  # which group's factor predicted it
    whole_run: bool
    plan: dict[str, Any]


def _in_metric(metric: str, step_ratio: float, value: float) -> float:
    """Scale a prediction in the row's metric by a step-time factor."""
    return value * step_ratio if metric == "step_time_s" else value / step_ratio


def base_prediction(run: Run, catalog: Catalog) -> BasePrediction:
    """Score the row's layout with its stack's conventions (no fitted correction).
    Layout fields the source does not print are chosen by the search (fastest plan)."""
    assert run.spec and run.accelerator and run.devices and run.global_batch_tokens
    assert run.metric and run.measured
    acc = catalog.accelerator(run.accelerator)
    # The hardware as `advisor estimate --accelerator A --count N` builds it (nodes, or
    # chip-link domains such as NVL72 racks and TPU slices), with the row's own network.
    try:
        hw = resolve_hardware(catalog, acc.id, run.devices, None, None)
    except AdvisorError as e:
        if run.node_network_gbs is None:
            raise ValueError(str(e)) from None
        per_node = min(run.devices, DEVICES_PER_NODE.get(acc.kind, 8))
    else:
        per_node = hw.devices_per_node
    net = run.node_network_gbs
    if net is None and run.devices > per_node:
        net, _ = node_network(catalog, acc, None, per_node)
        if net is None:
            raise ValueError(f"no sourced inter-node network for {acc.id}")
    dev = device_model(catalog, acc, catalog.profile_for(acc.id), None, per_node, net)
    dev = dataclasses.replace(dev, time_factor=1.0)
    lay = run.layout
    legacy = run.source in ("megatron-lm-2021", "korthikanti-2022")
    training = TrainingSpec(
        precision=run.precision,  # type: ignore[arg-type]
        recompute=run.recompute,  # type: ignore[arg-type]
        convention="megatron" if legacy else "advisor",
    )
    sp = lay["sp"] if lay["sp"] is not None else (lay["tp"] or 1) > 1
    full = LayoutChoice(
        tp=lay["tp"],
        pp=lay["pp"],
        cp=lay["cp"],
        ep=lay["ep"] if run.spec.is_moe else None,
        vpp=lay["vp"],
        sp=sp,
        zero=lay["zero"],
        micro_batch=lay["mbs"],
        recompute=run.recompute,  # type: ignore[arg-type]
    )
    loose = dataclasses.replace(full, vpp=None, micro_batch=None)
    plans = None
    for choice in (full, loose):  # v or micro-batch outside the searched set: search them
        plans = enumerate_plans(
            run.spec,
            [run.devices],
            per_node,
            run.global_batch_tokens,
            choice,
            flash_attention=run.flash_attention,
        )
        if len(plans):
            break
    if plans is None or not len(plans):
        raise ValueError("no legal layout agrees with the row's layout")
    memory = (run.memory_gb or (acc.memory_gb.value if acc.memory_gb else 80.0)) * 1e9
    scored = score(
        run.spec,
        training,
        plans,
        dev,
        capacity_bytes=memory,
        overhead_bytes=1.0 * GIB,
        grad_bytes=2.0 if legacy else None,
        flash_attention=run.flash_attention,
        dp_overlap=run.dp_overlap,
        tp_overlap=run.tp_overlap,
    )
    # Published runs were tuned for throughput: the fastest plan stands for the fields
    # they do not give (no preference for simpler plans, no headroom).
    i = scored.best(tolerance=0.0)
    if i is None:
        i = int(scored.memory_total.argmin())
    step = float(scored.step_time[i])
    tps = float(scored.tokens_per_s[i] / scored.devices[i])
    base = step if run.metric == "step_time_s" else tps
    peak = dev.peak(run.precision)
    nap_tps = NAPKIN_MFU * peak / model_flops_per_token(run.spec)
    nap = (
        run.global_batch_tokens / (nap_tps * run.devices)
        if run.metric == "step_time_s"
        else nap_tps
    )
    ratio = run.measured / base if run.metric == "step_time_s" else base / run.measured
    return BasePrediction(
        id=run.id,
        source=run.source,
        stack=run.stack,
        family=run.family or run.accelerator,
        accelerator=run.accelerator,
        metric=run.metric,
        measured=run.measured,
        base=base,
        ratio=ratio,
        napkin=nap,
        whole_run=run.whole_run,
        plan=plan_fields(scored.plans, i),
    )


@functools.lru_cache(maxsize=1)
def base_predictions() -> tuple[tuple[BasePrediction, ...], dict[str, str]]:
    """Base predictions of every checkable row, and the rows not checked with why."""
    catalog = load_catalog()
    out: list[BasePrediction] = []
    skipped: dict[str, str] = {}
    for run in load_runs():
        if run.reason:
            skipped[run.id] = run.reason
            continue
        if run.spec is not None and run.spec.is_moe:
            continue  # cross-validated apart (advisor/moe_fit.py)
        try:
            out.append(base_prediction(run, catalog))
        except Exception as e:  # reported per row, never dropped silently
            skipped[run.id] = f"the model cannot score it: {e}"
    return tuple(out), skipped


def _geomean(xs: Iterable[float]) -> float:
    v = [math.log(x) for x in xs]
    return math.exp(sum(v) / len(v))


def fit_factor(
    train: list[BasePrediction], stack: str, family: str, weight: float = 1.0
) -> tuple[float, str, list[str]]:
    """The time factor for (stack, family) from training rows, with its group and rows."""
    tiers = (
        (f"{stack}/{family}", [p for p in train if p.stack == stack and p.family == family]),
        (f"{stack}/any", [p for p in train if p.stack == stack]),
        (f"any/{family}", [p for p in train if p.family == family]),
        ("all", train),
    )
    for name, rows in tiers:
        if len(rows) >= MIN_ROWS:
            return _geomean(p.ratio for p in rows) ** weight, name, [p.id for p in rows]
    return 1.0, "none", []


def _cv_median(preds: tuple[BasePrediction, ...], weight: float) -> float:
    st = steady(preds)
    errors = []
    for p in st:
        f, _, _ = fit_factor([q for q in st if q.source != p.source], p.stack, p.family, weight)
        errors.append(abs(_in_metric(p.metric, f, p.base) / p.measured - 1))
    return float(np.median(errors)) if errors else math.nan


def shrink_weight(preds: tuple[BasePrediction, ...] | None = None) -> float:
    """w with the lowest leave-one-source-out median |error| (the first on ties)."""
    preds = preds if preds is not None else base_predictions()[0]
    return min(SHRINK_WEIGHTS, key=lambda w: (round(_cv_median(preds, w), 6), w))


def steady(preds: Iterable[BasePrediction]) -> list[BasePrediction]:
    return [p for p in preds if not p.whole_run]


def cross_validate(
    preds: tuple[BasePrediction, ...] | None = None, weight: float | None = None
) -> list[CvRow]:
    """Each row predicted with the factor fitted on the other sources' steady rows."""
    preds = preds if preds is not None else base_predictions()[0]
    w = shrink_weight(preds) if weight is None else weight
    out = []
    for p in preds:
        train = [q for q in steady(preds) if q.source != p.source]
        f, group, _ = fit_factor(train, p.stack, p.family, w)
        pred = _in_metric(p.metric, f, p.base)
        out.append(
            CvRow(
                **p.model_dump(include=set(RowId.model_fields)),
                predicted=pred,
                error=pred / p.measured - 1,
                napkin=p.napkin,
                napkin_error=p.napkin / p.measured - 1,
                factor=f,
                factor_group=group,
                whole_run=p.whole_run,
                plan=p.plan,
            )
        )
    return out


def abs_stats(errors: list[float]) -> dict[str, float]:
    a = np.abs(np.asarray(errors, dtype=float))
    return {
        "n": len(errors),
        "median_abs_error": float(np.median(a)) if len(a) else math.nan,
        "p90_abs_error": float(np.percentile(a, 90)) if len(a) else math.nan,
    }


def summary(rows: list[CvRow]) -> dict[str, Any]:
    """Median and p90 |error| (CV and napkin) overall and per source, family and stack;
    steady-state rows and whole-run rows apart."""
    st = [r for r in rows if not r.whole_run]
    out: dict[str, Any] = {
        "steady_state": {
            "cv": abs_stats([r.error for r in st]),
            "napkin": abs_stats([r.napkin_error for r in st]),
        },
        "whole_run": {
            "cv": abs_stats([r.error for r in rows if r.whole_run]),
            "napkin": abs_stats([r.napkin_error for r in rows if r.whole_run]),
        },
    }
    for key in ("source", "family", "stack"):
        groups: dict[str, list[CvRow]] = {}
        for r in st:
            groups.setdefault(getattr(r, key), []).append(r)
        out[f"by_{key}"] = {
            g: {
                "cv": abs_stats([r.error for r in rs]),
                "napkin": abs_stats([r.napkin_error for r in rs]),
            }
            for g, rs in sorted(groups.items())
        }
    return out


def step_ratios(rows: list[CvRow]) -> dict[str, float]:
    """Measured over CV-predicted step time per row (the residual a range is made of)."""
    return {
        r.id: (r.measured / r.predicted if r.metric == "step_time_s" else r.predicted / r.measured)
        for r in rows
    }


def residual_ranges(rows: list[CvRow]) -> dict[str, dict[str, Any]]:
    """10th-90th percentile of measured/predicted step time, per (stack, family) with at
    least RANGE_MIN_ROWS steady rows, per family likewise, and over all steady rows."""
    st = [r for r in rows if not r.whole_run]
    ratios = step_ratios(st)
    groups: dict[str, list[CvRow]] = {"all": st}
    for r in st:
        groups.setdefault(f"{r.stack}/{r.family}", []).append(r)
        groups.setdefault(f"any/{r.family}", []).append(r)
    out = {}
    for g, rs in sorted(groups.items()):
        if len(rs) < RANGE_MIN_ROWS:
            continue
        v = np.array([ratios[r.id] for r in rs])
        out[g] = {
            "p10": round(float(np.percentile(v, 10)), 4),
            "p90": round(float(np.percentile(v, 90)), 4),
            "rows": sorted(r.id for r in rs),
        }
    return out


def all_rows_factors(preds: tuple[BasePrediction, ...], weight: float) -> dict[str, dict[str, Any]]:
    """The shipped fit: a factor per (stack, family), per stack, per family (`auto`) and
    overall, each g**w with g fitted on all steady rows of the group (>= MIN_ROWS)."""
    st = steady(preds)
    groups: dict[str, list[BasePrediction]] = {"all": st}
    for p in st:
        groups.setdefault(f"{p.stack}/{p.family}", []).append(p)
        groups.setdefault(f"{p.stack}/any", []).append(p)
        groups.setdefault(f"any/{p.family}", []).append(p)
    out = {}
    for g, rs in sorted(groups.items()):
        if len(rs) < MIN_ROWS:
            continue
        gm = _geomean(p.ratio for p in rs)
        out[g] = {
            "factor": round(gm**weight, 4),
            "unshrunk": round(gm, 4),
            "rows": sorted(p.id for p in rs),
        }
    return out


def fit_document() -> dict[str, Any]:
    preds, _ = base_predictions()
    weight = shrink_weight(preds)
    rows = cross_validate(preds, weight)
    return {
        "source": "FIT-PUBLISHED",
        "as_of": "2026-12-07",
        "made_by": "python -m advisor.crossval --write",
        "note": (
            "factor = geometric mean of measured/predicted step time over the group's "
            "steady-state published rows (advisor/data/published_runs*.csv); a group is "
            "stack/family, any/family (stack auto) or all. ranges = 10th-90th percentile of "
            "the leave-one-source-out residuals of the group's rows. factor = unshrunk**weight, "
            "weight chosen from SHRINK_WEIGHTS by the leave-one-source-out median |error|."
        ),
        "weight": weight,
        "min_rows": {"factor": MIN_ROWS, "range": RANGE_MIN_ROWS},
        "families": _families(),
        "factors": all_rows_factors(preds, weight),
        "ranges": residual_ranges(rows),
        "moe": _moe_section(preds, weight),
    }


def _moe_section(preds: tuple[BasePrediction, ...], weight: float) -> dict[str, Any]:
    from advisor.moe_fit import moe_fit_section

    return moe_fit_section(preds, weight)


def _families() -> dict[str, str]:
    from advisor.runs import sources_data

    return dict(sources_data()["families"])


def main() -> None:
    """Print the fit document; `--write` replaces the shipped file (computed in full
    before the file is touched: the model reads it while the fit runs)."""
    import yaml

    from advisor.fitted import FIT_FILE

    text = "# Generated by `python -m advisor.crossval --write`; do not edit by hand.\n"
    text += yaml.safe_dump(fit_document(), sort_keys=False, width=100)
    if "--write" in sys.argv[1:]:
        FIT_FILE.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
