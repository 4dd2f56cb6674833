"""Cross-validation of the MoE rows of the published runs, and their shipped factor.

Every MoE row on file (Megatron-Bridge performance archive: DeepSeek-V3, Qwen3-30B-A3B,
Qwen3-235B-A22B on H100, B200, GB200, GB300) ran with tokens force-balanced across
experts, dropless (the archive's footnote), so they measure expert parallelism and
all-to-all at imbalance 1, an upper bound on real routing.

A MoE row's prediction is the analytic model x the dense factor of its (stack, family)
(advisor/crossval.py, fitted on dense rows only) x a MoE excess e**w: e the geometric
mean, over training MoE rows, of measured/predicted step time left after their own
dense factor; w (from crossval.SHRINK_WEIGHTS) shrinks it toward the dense fit.

Two cross-validations are reported:
- leave one source out, as the dense rows: every MoE row shares one source, so no MoE
  row is left to fit e, and each is predicted by the dense fit of the other sources;
- leave one model out: e (and w) fitted on the other models' MoE rows (DeepSeek-V3 rows
  predicted from the Qwen3 ones and so on), the dense factor still without the row's
  source. This is the figure the target (median |error| <= 12%) is judged on.

    python -m advisor.crossval --write   (writes the `moe` section of stack_fit.yaml)
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from advisor.crossval import (
    SHRINK_WEIGHTS,
    BasePrediction,
    CvRow,
    _in_metric,
    abs_stats,
    base_prediction,
    fit_factor,
    held_out_fields,
    steady,
)

FORCE_BALANCED = (
    "every MoE benchmark on file force-balanced tokens across experts (dropless), so "
    "these rows check expert parallelism at imbalance 1: real routing is slower"
)


class MoeCvRow(CvRow):
    model: str  # the preset the row runs (the unit left out in leave-one-model-out)
    dense_factor: float
    excess: float  # e**w applied on top of the dense factor
    loso_predicted: float  # leave-one-source-out: the dense factor alone
    loso_error: float


@functools.lru_cache(maxsize=1)
def moe_base_predictions() -> tuple[tuple[BasePrediction, ...], dict[str, str]]:
    """Base predictions of the checkable MoE rows (model key in `plan['model']`)."""
    from advisor.catalog import load_catalog
    from advisor.runs import load_runs, moe_model

    catalog = load_catalog()
    out: list[BasePrediction] = []
    failed: dict[str, str] = {}
    for run in load_runs():
        if run.reason or run.spec is None or not run.spec.is_moe:
            continue
        try:
            p = base_prediction(run, catalog)
        except Exception as e:  # reported per row, never dropped silently
            failed[run.id] = f"the model cannot score it: {e}"
            continue
        entry = moe_model(run.raw) or {}
        out.append(p.model_copy(update={"plan": {**p.plan, "model": entry.get("preset")}}))
    return tuple(out), failed


def _model(p: BasePrediction) -> str:
    return str(p.plan.get("model"))


def _dense_factor(p: BasePrediction, dense: list[BasePrediction], w: float) -> tuple[float, str]:
    f, group, _ = fit_factor([q for q in dense if q.source != p.source], p.stack, p.family, w)
    return f, group


def _excess(train: list[BasePrediction], dense: list[BasePrediction], w: float) -> float:
    """Geometric mean of what the MoE rows ask for beyond their dense factor."""
    if not train:
        return 1.0
    logs = [math.log(q.ratio / _dense_factor(q, dense, w)[0]) for q in train]
    return math.exp(sum(logs) / len(logs))


def _rows(
    moe: tuple[BasePrediction, ...], dense: list[BasePrediction], dw: float, mw: float
) -> list[MoeCvRow]:
    out = []
    for p in moe:
        f_d, group = _dense_factor(p, dense, dw)
        e = _excess([q for q in steady(moe) if _model(q) != _model(p)], dense, dw) ** mw
        pred = _in_metric(p.metric, f_d * e, p.base)
        loso = _in_metric(p.metric, f_d, p.base)
        out.append(
            MoeCvRow(
                **held_out_fields(p, pred, f_d * e, f"{group} x moe"),
                model=_model(p),
                dense_factor=f_d,
                excess=e,
                loso_predicted=loso,
                loso_error=loso / p.measured - 1,
            )
        )
    return out


def moe_weight(moe: tuple[BasePrediction, ...], dense: list[BasePrediction], dw: float) -> float:
    """w with the lowest leave-one-model-out median |error| (the first on ties)."""

    def median(w: float) -> float:
        return float(np.median([abs(r.error) for r in _rows(moe, dense, dw, w)]))

    return min(SHRINK_WEIGHTS, key=lambda w: (round(median(w), 6), w))


def moe_cross_validate(
    dense_preds: tuple[BasePrediction, ...], dense_weight: float
) -> tuple[list[MoeCvRow], float]:
    """Every MoE row, cross-validated both ways, and the MoE shrink weight."""
    moe, _ = moe_base_predictions()
    dense = steady(dense_preds)
    if not moe:
        return [], 1.0
    w = moe_weight(moe, dense, dense_weight)
    return _rows(moe, dense, dense_weight, w), w


def moe_summary(rows: list[MoeCvRow], weight: float) -> dict[str, Any]:
    by_model: dict[str, list[MoeCvRow]] = {}
    for r in rows:
        by_model.setdefault(r.model, []).append(r)
    return {
        "leave_one_model_out": abs_stats([r.error for r in rows]),
        "leave_one_source_out": abs_stats([r.loso_error for r in rows]),
        "napkin": abs_stats([r.napkin_error for r in rows]),
        "moe_weight": weight,
        "by_model": {m: abs_stats([r.error for r in rs]) for m, rs in sorted(by_model.items())},
        "note": FORCE_BALANCED,
    }


def moe_fit_section(dense_preds: tuple[BasePrediction, ...], dense_weight: float) -> dict:
    """The shipped MoE factor: e over all MoE rows (each after its dense group factor
    fitted on all dense rows), to the power w, and the 10th-90th percentile of the
    leave-one-model-out residuals (measured/predicted step time)."""
    moe, _ = moe_base_predictions()
    if not moe:
        return {}
    rows, w = moe_cross_validate(dense_preds, dense_weight)
    dense = steady(dense_preds)
    logs = [
        math.log(p.ratio / fit_factor(dense, p.stack, p.family, dense_weight)[0])
        for p in steady(moe)
    ]
    e = math.exp(sum(logs) / len(logs))
    ratios = np.array(
        [
            r.measured / r.predicted if r.metric == "step_time_s" else r.predicted / r.measured
            for r in rows
        ]
    )
    return {
        "factor": round(e**w, 4),
        "unshrunk": round(e, 4),
        "weight": w,
        "p10": round(float(np.percentile(ratios, 10)), 4),
        "p90": round(float(np.percentile(ratios, 90)), 4),
        "rows": sorted(p.id for p in moe),
        "note": "MoE excess over the dense stack/family factor, leave-one-model-out; "
        + FORCE_BALANCED,
    }
