"""The shipped MoE correction (the `moe` section of advisor/data/stack_fit.yaml, made by
advisor/moe_fit.py), applied at run time on top of the dense stack/family factor."""

from __future__ import annotations

import dataclasses
from typing import Any

from advisor.fitted import fit_data
from advisor.model.spec import ModelSpec


def moe_fit() -> dict[str, Any]:
    return dict(fit_data().get("moe") or {})


def with_moe_factor(dev: Any, spec: ModelSpec) -> Any:
    """The device model with the MoE factor folded into its time factor (MoE models only)."""
    f = float(moe_fit().get("factor", 1.0))
    if not spec.is_moe or f == 1.0:
        return dev
    return dataclasses.replace(dev, time_factor=dev.time_factor * f)


def moe_factor_note(spec: ModelSpec) -> list[str]:
    fit = moe_fit()
    if not spec.is_moe or not fit:
        return []
    return [
        f"MoE step time x {fit['factor']:.3f} more: the fitted MoE correction over the dense "
        f"one ({len(fit['rows'])} published force-balanced MoE runs; cross-validated leave one "
        f"model out, 10th-90th percentile residual {fit['p10']:.2f}-{fit['p90']:.2f}; "
        "advisor/data/stack_fit.yaml)"
    ]


def with_moe_range(out: Any, spec: ModelSpec) -> Any:
    """A MoE estimate's `range` from the MoE rows' cross-validated residuals (moe_fit.py)
    instead of the dense rows' (same keys; the basis says which rows)."""
    fit = moe_fit()
    if not spec.is_moe or not fit or not out.range:
        return out
    p10, p90 = min(float(fit["p10"]), 1.0), max(float(fit["p90"]), 1.0)
    rng = dict(out.range)
    for key in ("step_time_s", "time_to_train_s", "cost_usd"):
        v = {"step_time_s": out.step_time_s, "time_to_train_s": out.time_to_train_s}.get(
            key, out.cost_usd
        )
        rng[key] = {"low": v * p10 if v is not None else None, "high": v * p90 if v else None}
    for key, v in (("tokens_per_s_per_device", out.tokens_per_s_per_device), ("mfu", out.mfu)):
        rng[key] = {"low": v / p90, "high": v / p10}
    rng["basis"] = {
        **rng["basis"],
        "group": "moe (leave one model out)",
        "count": len(fit["rows"]),
        "rows": list(fit["rows"]),
        "ratio_low": p10,
        "ratio_high": p90,
    }
    return out.model_copy(update={"range": rng})
