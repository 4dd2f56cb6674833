"""Mixture of experts under expert parallelism: where the experts live, what the token
all-to-all costs, and how uneven expert load stretches a MoE block.

Layout (Megatron-Core "MoE parallel folding", Liu et al. 2025, arXiv 2504.14960 §3;
megatron/core/parallel_state.py): attention and dense parts use tp x cp x dp as
always, while the MoE layers re-fold the same tp·cp·dp ranks of a pipeline stage into
expert-tensor (etp) x expert (ep) x expert-data parallel groups. advisor models etp = 1
(the published Megatron-Bridge MoE recipes' setting, so an expert is never split), so
`ep` must divide tp·cp·dp and each rank holds experts/ep whole experts; their gradients
are reduced, and ZeRO-sharded, over the expert-data group tp·cp·dp/ep. EP ranks are
consecutive after tensor parallelism, so an EP group stays inside a node (NVLink or an
NVL72 domain) while ep <= devices per node.

All-to-all (Lepikhin et al. 2021, GShard §2.2; Rajbhandari et al. 2022, DeepSpeed-MoE
§5.2): each MoE layer dispatches every token to its top_k experts' ranks and combines
the results back, one all-to-all each in forward and their conjugates in backward (4 per
layer per micro-batch; full recomputation repeats the forward two). A rank sends
tokens·top_k·h·bytes, (ep-1)/ep of it off the rank; when the group spans nodes the part
to other nodes, (ep - per_node)/ep, goes over the rank's share of the node's NICs
(DeepEP measures 43-58 GB/s RDMA per H800 with 50 GB/s NICs at EP16-64, near the link:
hardware-facts-more.md, DEEPEP). Shared experts run on every rank like a dense MLP.

Load: the busiest expert sets a MoE block's pace (all ranks wait for the all-to-all), so
the routed experts' compute and the all-to-all scale by the imbalance (max/mean tokens
per expert). Dropless routing (Megatron-Core's default, DeepSeek-V3) takes the whole
imbalance; a capacity factor c drops tokens beyond c x mean, so the load is
min(imbalance, c) (Fedus et al. 2022, Switch Transformer §2.2). The published MoE
benchmarks force-balance tokens across experts (imbalance 1); advisor's default is 1
too, an assumption that real routing only makes slower (`--moe-imbalance`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.model.parallel import cp_of, max_stage_layers
from advisor.model.params import ParamCounts
from advisor.model.spec import ModelSpec, TrainingSpec


def ep_of(plan: Any) -> Any:
    """The expert-parallel degree of a plan or array of plans (1 where absent)."""
    ep = getattr(plan, "ep", None)
    return 1 if ep is None else np.asarray(ep)


def expert_dp_group(plan: Any) -> Any:
    """Ranks that reduce (and, with ZeRO, shard) expert gradients: tp·cp·dp / ep (ep
    divides tp·cp·dp, so the float quotient is whole)."""
    group = np.asarray(plan.tp) * cp_of(plan) * np.asarray(plan.dp) / ep_of(plan)
    return np.maximum(group, 1.0)


def routed_stage_params(counts: ParamCounts, plan: Any) -> Any:
    """Routed-expert parameters of the heaviest pipeline stage, before any split: its
    blocks (every one counted as MoE, an upper bound) x experts x one expert's MLP."""
    layers = np.minimum(max_stage_layers(counts.layers, plan.pp), counts.moe_layers)
    return counts.routed_per_layer * layers


def routed_params_per_device(counts: ParamCounts, plan: Any) -> Any:
    """Routed-expert parameters on the most loaded device: experts/ep whole experts."""
    return routed_stage_params(counts, plan) / ep_of(plan)


def routed_params_shift(counts: ParamCounts, plan: Any) -> Any:
    """Expert parallelism against tensor parallelism alone (1/tp of every expert): what a
    device's parameter count changes by (0 for a dense model)."""
    if not counts.routed_per_layer:
        return 0.0
    return routed_stage_params(counts, plan) * (1.0 / ep_of(plan) - 1.0 / np.asarray(plan.tp))


def expert_load(training: TrainingSpec) -> float:
    """How much longer the busiest expert takes than a balanced one (module docstring)."""
    load = training.moe_imbalance
    if training.capacity_factor is not None:
        load = min(load, max(training.capacity_factor, 1.0))
    return load


def dropped_share(training: TrainingSpec) -> float:
    """Share of the busiest expert's tokens a capacity factor drops (0 when dropless)."""
    if training.capacity_factor is None or training.capacity_factor >= training.moe_imbalance:
        return 0.0
    return 1.0 - training.capacity_factor / training.moe_imbalance


def all_to_all_bytes(spec: ModelSpec, b: Any, tp: Any, sp: Any, cp: Any, elem: int) -> Any:
    """Bytes one rank sends in one dispatch (or combine) of one MoE layer: its tokens
    (s/cp per sequence, split over tp with sequence parallelism) times top_k copies."""
    sp_div = np.where(np.asarray(sp) > 0, np.asarray(tp, dtype=float), 1.0)
    tokens = np.asarray(b, dtype=float) * spec.seq_len / np.asarray(cp, dtype=float) / sp_div
    return tokens * spec.top_k * spec.hidden * elem


def remote_node_copies(ep: Any, per_node: int, top_k: int) -> Any:
    """Copies of one token that cross the network: one per other node holding any of its
    top_k experts, the rest forwarded inside that node over the chip link (DeepSeek-V3
    technical report §3.2.2, as DeepEP's dispatch does; Megatron-Core's flex dispatcher
    uses DeepEP). With the experts uniform over g = ep/per_node nodes, a token's
    experts touch (g-1)·(1-(1-1/g)^k) other nodes on average."""
    g = np.maximum(np.asarray(ep, dtype=float) / per_node, 1.0)
    return (g - 1.0) * (1.0 - (1.0 - 1.0 / g) ** top_k)


def all_to_all_time(
    nbytes: Any,
    ep: Any,
    per_node: int,
    intra_bw: float,
    inter_bw_per_device: float,
    intra_latency: float,
    inter_latency: float,
    top_k: int = 1,
) -> Any:
    """Seconds of one all-to-all of `nbytes` per rank (its tokens' top_k copies) over `ep`
    ranks: the share for other ranks of the node over the chip link, the copies for
    other nodes (`remote_node_copies`) over the rank's NIC share, both at once (the
    slower bounds it)."""
    ep = np.asarray(ep, dtype=float)
    local = np.minimum(ep, per_node)
    intra = nbytes * (local - 1) / ep / max(intra_bw, 1.0)
    inter = nbytes * remote_node_copies(ep, per_node, top_k) / top_k
    inter = inter / max(inter_bw_per_device, 1.0)
    latency = np.where(ep > per_node, inter_latency, intra_latency)
    return np.where(ep > 1, latency + np.maximum(intra, inter), 0.0)


def ep_comm_per_microbatch(
    spec: ModelSpec,
    plans: Any,
    dev: Any,
    elem: int,
    load: float = 1.0,
    hidden_by: Any = 0.0,
    layers: Any = None,
) -> Any:
    """Exposed all-to-all seconds per micro-batch on the slowest stage: 4 per MoE layer
    (6 with full recomputation), times the load, less what overlaps with compute
    (`hidden_by`: seconds of expert compute the stack runs beside it, 0 if none)."""
    if not spec.is_moe:
        return np.zeros(len(plans))
    nbytes = all_to_all_bytes(spec, plans.mb, plans.tp, plans.sp, cp_of(plans), elem)
    one = all_to_all_time(
        nbytes * load,
        ep_of(plans),
        dev.devices_per_node,
        dev.intra_bus_bandwidth,
        dev.inter_node_bandwidth / dev.devices_per_node,
        dev.intra_latency,
        dev.inter_latency,
        spec.top_k,
    )
    per_layer = one * np.where(np.asarray(plans.rec) == 2, 6.0, 4.0)
    per_layer = np.maximum(per_layer - hidden_by, 0.0)
    if layers is None:
        layers = np.minimum(max_stage_layers(spec.layers, plans.pp), spec.moe_layers)
    return per_layer * layers


def check_ep(
    spec: ModelSpec, ep: int, tp: int = 1, cp: int = 1, dp: int | None = None
) -> str | None:
    """Why an expert-parallel degree cannot be used, or None."""
    if ep <= 1:
        return None
    if not spec.is_moe:
        return f"--ep {ep}: {spec.name} is a dense model (no experts to distribute)"
    if spec.experts % ep:
        return (
            f"--ep {ep} does not divide the {spec.experts} experts of {spec.name}: "
            f"use one of {', '.join(str(d) for d in _divisors(spec.experts) if d > 1)}"
        )
    if dp is not None and (tp * cp * dp) % ep:
        return f"--ep {ep} must divide tp x cp x dp = {tp * cp * dp} ranks of a pipeline stage"
    return None


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
