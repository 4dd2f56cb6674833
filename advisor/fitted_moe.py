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
