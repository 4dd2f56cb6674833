"""Communication terms of a step that are not inside a block: pipeline sends between
stages and the data-parallel (x context-parallel) collectives, hierarchical across
nodes, with nccl-tests' bus-bandwidth factors (doc/PERFORMANCE.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.model.device import DeviceModel
from advisor.model.parallel import dp_group, max_stage_layers
from advisor.model.params import count_params
from advisor.model.plans import Plans
from advisor.model.spec import ModelSpec


def p2p_time(spec: ModelSpec, plans: Plans, dev: DeviceModel, elem: int) -> np.ndarray:
    """Pipeline sends per micro-batch: an activation forward and a gradient backward per
    virtual stage; with TP, Megatron's scatter/gather sends 1/t of it (Narayanan §4.1)."""
    msg = plans.mb * spec.seq_len * spec.hidden * elem / (plans.tp * plans.cp)
    # Megatron rank order: tensor, context, data, then pipeline
    stride = plans.tp * plans.cp * plans.dp
    intra = stride < dev.devices_per_node
    per_gpu_inter = dev.inter_node_bandwidth / dev.devices_per_node
    bw = np.where(intra, max(dev.intra_bus_bandwidth, 1.0), max(per_gpu_inter, 1.0))
    lat = np.where(intra, dev.intra_latency, dev.inter_latency)
    t = 2 * plans.vpp * (lat + msg / bw)
    return np.where(plans.pp > 1, t, 0.0)


def dp_reduce_time(nbytes: Any, plans: Plans, dev: DeviceModel, kind: str) -> np.ndarray:
    """One data-parallel collective of `nbytes` per device, hierarchical when the group
    spans nodes: each node's NICs (rail-optimised, one share per device) carry
    factor x bytes x devices_per_node / ranks_per_node. The group is data x context
    parallel (parallel.dp_group)."""
    latency, per_byte = dp_collective_terms(plans, dev, kind)
    return latency + nbytes * per_byte


def _bus_factor(kind: str, n: Any) -> Any:
    """nccl-tests' busbw factor: 2(n-1)/n for all-reduce, (n-1)/n otherwise."""
    return 2 * (n - 1) / n if kind == "all_reduce" else (n - 1) / n


def dp_collective_terms(plans: Plans, dev: DeviceModel, kind: str) -> tuple[Any, Any]:
    """(latency seconds, seconds per byte) of dp_reduce_time, which is linear in the
    bytes: computed once per step and kind, shared by every data-parallel collective."""
    group = dp_group(plans)
    n = group.astype(float)
    per_node = dev.devices_per_node
    ranks_per_node = np.clip(per_node // plans.tp, 1, None)
    ranks_per_node = np.minimum(ranks_per_node, group)
    intra_only = plans.tp * group <= per_node
    intra_bw = max(dev.intra_bus_bandwidth, 1.0)
    g = np.maximum(n / ranks_per_node, 1.0)
    inter_per_byte = (
        _bus_factor(kind, g) * per_node / ranks_per_node / max(dev.inter_node_bandwidth, 1.0)
        + _bus_factor(kind, ranks_per_node) / intra_bw
    )
    inter_latency = dev.inter_latency + np.where(ranks_per_node > 1, dev.intra_latency, 0.0)
    latency = np.where(intra_only, dev.intra_latency, inter_latency)
    per_byte = np.where(intra_only, _bus_factor(kind, n) / intra_bw, inter_per_byte)
    return np.where(n > 1, latency, 0.0), np.where(n > 1, per_byte, 0.0)


def fsdp_per_block(
    spec: ModelSpec, plans: Plans, gather: tuple[Any, Any], elem: float, grad_elem: float
) -> tuple[np.ndarray, ...]:
    """ZeRO-3 collectives of the heaviest stage, per unit: (block all-gather, block
    reduce-scatter, root all-gather, root reduce-scatter, blocks on the stage). The root
    unit holds the embedding and, on a single stage, the output layer and final norm."""
    counts = count_params(spec)
    block = counts.per_layer / plans.tp
    root = (counts.embedding + (counts.output + counts.final_norm) * (plans.pp == 1)) / plans.tp
    # All-gather and reduce-scatter share nccl-tests' factor (n-1)/n: one call for all four.
    nbytes = np.stack([block * elem, block * grad_elem, root * elem, root * grad_elem])
    t = gather[0] + nbytes * gather[1]  # dp_reduce_time's terms (gather factor = scatter's)
    return (*t, max_stage_layers(spec.layers, plans.pp).astype(float))
