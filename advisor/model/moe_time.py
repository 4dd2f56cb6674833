"""The MoE terms of a step time (advisor/model/moe.py has the layout and the formulas):
the all-to-all per micro-batch, the busiest expert's extra compute, and where expert
parallelism moves the parameters a device reduces and updates."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.model.moe import (
    ep_comm_per_microbatch,
    expert_dp_group,
    routed_params_per_device,
    routed_params_shift,
)
from advisor.model.parallel import dp_group, max_stage_layers
from advisor.model.params import ParamCounts, count_params
from advisor.model.spec import ModelSpec


def routed_share(spec: ModelSpec) -> float:
    """Share of a MoE block's forward matmul FLOPs in its routed experts."""
    if not spec.is_moe:
        return 0.0
    c = count_params(spec)
    return spec.top_k * c.mlp_expert_matmul / c.layer_matmul_active


def moe_step_parts(
    spec: ModelSpec,
    plans: Any,
    dev: Any,
    elem: int,
    matrix_mb: np.ndarray,
    load: float = 1.0,
    overlap: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(extra matrix seconds, exposed all-to-all seconds) per micro-batch on the slowest
    stage. `matrix_mb`: that stage's matmul seconds per micro-batch. The busiest expert
    takes `load` x its balanced time; with `overlap` the all-to-all of one layer hides
    behind that layer's routed-expert compute (Megatron-Core's
    --overlap-moe-expert-parallel-comm; DeepSeek-V3 §3.2.1 DualPipe)."""
    n = len(plans)
    if not spec.is_moe:
        return np.zeros(n), np.zeros(n)
    share = routed_share(spec)
    routed = matrix_mb * share * spec.moe_layers / spec.layers
    extra = routed * (load - 1.0)
    layers = np.minimum(max_stage_layers(spec.layers, plans.pp), spec.moe_layers)
    hidden = (routed + extra) / np.maximum(layers, 1) if overlap else 0.0
    return extra, ep_comm_per_microbatch(spec, plans, dev, elem, load, hidden, layers)


def expert_params_shift(counts: ParamCounts, plans: Any) -> Any:
    """What expert parallelism changes in the parameters a device holds: its routed
    experts are experts/ep whole ones instead of 1/tp of every one (0 when dense)."""
    return routed_params_shift(counts, plans)


def update_group(counts: ParamCounts, plans: Any, p_dev: Any) -> Any:
    """The group a device's parameters are sharded over, as one number: dense ones over
    dp·cp, routed experts over the expert-data group (moe.py)."""
    group = dp_group(plans)
    if not counts.routed_per_layer:
        return group
    p_exp = routed_params_per_device(counts, plans)
    return p_dev / np.maximum((p_dev - p_exp) / group + p_exp / expert_dp_group(plans), 1e-30)
