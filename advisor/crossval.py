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

import math
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from advisor.crossval_base import (  # noqa: F401  (re-exported: importers use crossval)
    DEVICES_PER_NODE,
    NAPKIN_MFU,
    BasePrediction,
    CvRow,
    RowId,
    base_prediction,
    base_predictions,
    held_out_fields,
)

MIN_ROWS = 3  # a group's own factor needs this many training rows
SHRINK_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # candidates for w in factor = g**w
RANGE_MIN_ROWS = 5  # a group's own residual range needs this many rows (issue 10)


def _in_metric(metric: str, step_ratio: float, value: float) -> float:
    """Scale a prediction in the row's metric by a step-time factor."""
    return value * step_ratio if metric == "step_time_s" else value / step_ratio


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
        out.append(CvRow(**held_out_fields(p, pred, f, group)))
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
