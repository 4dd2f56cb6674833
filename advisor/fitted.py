"""The shipped fit on published runs (advisor/data/stack_fit.yaml), read at run time.

Two things per group of runs (stack/family, any/family = stack `auto`, or all):
a multiplicative step-time factor fitted on all the group's steady-state rows, and
the 10th-90th percentile of the leave-one-source-out residuals, the range printed
beside every time, throughput and cost. Made by `python -m advisor.crossval`; no CSV
is parsed and no cross-validation runs here, so `recommend` stays fast.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from advisor.errors import DataError

FIT_FILE = Path(__file__).resolve().parent / "data" / "stack_fit.yaml"
AUTO = "auto"


@functools.lru_cache(maxsize=1)
def fit_data() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(FIT_FILE.read_text(encoding="utf-8"), Loader=loader)
        for key in ("factors", "ranges", "families"):
            if not isinstance(data.get(key), dict):
                raise ValueError(f"missing '{key}'")
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise DataError(f"{FIT_FILE}: {e}") from e
    return data


def family(accelerator_id: str) -> str:
    return fit_data()["families"].get(accelerator_id, accelerator_id)


def _groups(accelerator_id: str, stack: str) -> list[str]:
    fam = family(accelerator_id)
    own = [] if stack == AUTO else [f"{stack}/{fam}", f"{stack}/any"]
    return [*own, f"any/{fam}", "all"]


def time_factor(accelerator_id: str, stack: str = AUTO) -> tuple[float, str, int]:
    """(factor, group it was fitted on, rows) for this part and stack: the stack's own
    factor on the part's family, else the family's over every stack, else all rows."""
    factors = fit_data()["factors"]
    for g in _groups(accelerator_id, stack):
        if g in factors:
            return float(factors[g]["factor"]), g, len(factors[g]["rows"])
    return 1.0, "none", 0


def residual_range(accelerator_id: str, stack: str = AUTO) -> tuple[float, float, str, list[str]]:
    """(p10, p90) of measured/predicted step time on comparable rows, the group and rows."""
    ranges = fit_data()["ranges"]
    fam = family(accelerator_id)
    order = ["all"] if stack == AUTO else [f"{stack}/{fam}", "all"]
    if stack == AUTO:
        order.insert(0, f"any/{fam}")
    for g in order:
        if g in ranges:
            r = ranges[g]
            return float(r["p10"]), float(r["p90"]), g, list(r["rows"])
    return 1.0, 1.0, "none", []


def factor_note(accelerator_id: str, stack: str = AUTO) -> str:
    f, g, n = time_factor(accelerator_id, stack)
    w = fit_data().get("weight", 1.0)
    return (
        f"step time x {f:.3f}: the fitted correction for stack '{stack}' on "
        f"{family(accelerator_id)} ({g}: the geometric mean of measured/predicted over {n} "
        f"published runs, to the power {w:g}, shrunk toward the analytic model; "
        "FIT-PUBLISHED, advisor/data/stack_fit.yaml)"
    )


def prediction_range(
    accelerator_id: str,
    step_time_s: float,
    tokens_per_s_per_device: float,
    mfu: float,
    time_to_train_s: float,
    cost_usd: float | None,
    stack: str = AUTO,
) -> dict[str, Any]:
    """The `range` object: 10th-90th percentile of the cross-validated residuals of
    comparable published runs, applied to each figure (time and cost scale with step
    time; throughput and MFU inversely)."""
    p10, p90, group, rows = residual_range(accelerator_id, stack)
    # The shipped factor is fitted on every source, the residuals each without its own:
    # where a group's residuals all fall on one side (its source taught the shipped
    # factor what no other source could), the range is widened to hold the estimate.
    p10, p90 = min(p10, 1.0), max(p90, 1.0)

    def slow(v: float | None) -> dict[str, float | None]:
        return {
            "low": v * p10 if v is not None else None,
            "high": v * p90 if v is not None else None,
        }

    def fast(v: float) -> dict[str, float]:
        return {"low": v / p90, "high": v / p10}

    return {
        "step_time_s": slow(step_time_s),
        "tokens_per_s_per_device": fast(tokens_per_s_per_device),
        "mfu": fast(mfu),
        "time_to_train_s": slow(time_to_train_s),
        "cost_usd": slow(cost_usd),
        "basis": {
            "group": group,
            "count": len(rows),
            "rows": rows,
            "percentiles": [10, 90],
            "ratio_low": p10,
            "ratio_high": p90,
            "what": "measured/predicted step time, leave-one-source-out (advisor accuracy)",
        },
    }
