"""Step time of training plans, evaluated over numpy arrays (one element per plan).

Each forward op of a block (advisor/model/ops.py) becomes a roofline term:
matrix ops take FLOPs / (peak x efficiency(FLOPs)) + a kernel overhead, vector
ops bytes / (bandwidth x efficiency(bytes)) + the overhead, and collectives
latency + bytes x factor / bus bandwidth with nccl-tests' factors (all-reduce
2(n-1)/n, all-gather and reduce-scatter (n-1)/n; nccl-tests doc/PERFORMANCE.md).
Backward is twice the forward matrix work (input and weight gradients; Narayanan et
al. 2021, §3.2); elementwise gradients move the tensors `backward_vector_factor` counts;
tensor-parallel collectives follow Megatron's conjugate operators, with sequence
parallelism's re-gather of each column-parallel input for its weight gradient, and
where the stack overlaps them, the input-gradient collectives hide behind the weight
(and the re-gather behind the input) gradient GEMMs (`backward_tp_comm`).

A step is m micro-batches through p stages: m·T plus the 1F1B bubble
(p-1)/v·T, T the time of one micro-batch on the slowest stage (Narayanan et al.
2021, §2.2: bubble fraction (p-1)/(v·m)). Data-parallel gradient reduction
overlaps backward; only what the last micro-batch's backward cannot hide is
exposed (ZeRO-2 and ZeRO-3 communicate every micro-batch, Rajbhandari et al.
2020 §5; FSDP gathers weights before each forward and backward, and for ZeRO-3 what
is hidden is counted per block, advisor/model/overlap.py).

What a device's own calibration measures is used where its profile gives it
(advisor/model/device.py; none of the shipped GPU profiles do): a fused
attention kernel's forward and backward efficiency replace the attention core's
roofline terms; a vector op of a measured class (norm, activation, softmax,
cast) takes max(bytes / bandwidth, elements / throughput), since on a CPU the
arithmetic of exp, erf or rsqrt, not memory, bounds them; every op pays a fixed
per-kernel time; the optimizer pays a fixed time per parameter tensor; tensors
the allocator maps fresh pay their first touch; and the ops' roofline times
are divided by a training efficiency, what a real training step of another
shape achieved against these microbenchmark figures (operands arriving from
memory rather than hot in cache; the GPU analogue is device.framework_transfer). Under
torch.autocast (`autocast=True`) weights, gradients and the residual stream are
fp32 and the conversions autocast inserts are ops of their own (ops.cast_ops).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.model.comm import dp_collective_terms, dp_reduce_time, fsdp_per_block, p2p_time
from advisor.model.device import DeviceModel
from advisor.model.memory import dtype_bytes
from advisor.model.moe_time import expert_params_shift, moe_step_parts, update_group
from advisor.model.op_time import (
    ATTENTION_CORE,
    TP_HALVES,
    _backward_sum,
    _sum,
    backward_tp_comm,
    backward_vector_factor,
    collective_time,
)

# `_op_time` was this module's name for op_time; kept importable for older callers.
from advisor.model.op_time import op_time as _op_time  # noqa: F401
from advisor.model.ops import Op, block_ops, cast_ops, head_ops, step_tensors
from advisor.model.overlap import fsdp_exposed_per_microbatch, fsdp_total_per_microbatch
from advisor.model.parallel import (
    dp_group,
    max_stage_layers,
    ring_attention_time,
    ring_chunk_bytes,
    stage_time,
)
from advisor.model.params import count_params, param_tensors
from advisor.model.plans import BREAKDOWN_KEYS, REC_CODES, Plans, StepTime
from advisor.model.spec import ModelSpec

__all__ = [  # plan types: advisor/model/plans.py; per-op times: op_time.py; re-exported
    "ATTENTION_CORE",
    "BREAKDOWN_KEYS",
    "DDP_BUCKET_BYTES",
    "REC_CODES",
    "TP_HALVES",
    "Plans",
    "StepTime",
    "attention_precision",
    "backward_tp_comm",
    "backward_vector_factor",
    "collective_time",
    "dp_reduce_time",
    "first_touch_time",
    "microbatch_stage_time",
    "optimizer_bytes_per_param",
    "step_time",
]

DDP_BUCKET_BYTES = 25 * 2**20  # torch DDP default bucket_cap_mb=25: the last one cannot overlap


def microbatch_stage_time(
    spec: ModelSpec,
    plans: Plans,
    dev: DeviceModel,
    precision: str,
    flash_attention: bool = True,
    autocast: bool = False,
    tp_overlap: bool = False,
) -> np.ndarray:
    """Seconds (matrix, vector, tp comm, cp comm) for one micro-batch forward+backward
    (+recompute) on the slowest pipeline stage: L/p blocks plus the output layer and
    loss, or with uneven stages the heaviest of them (advisor/model/parallel.py)."""
    dev = dev.for_precision(precision)
    return _stage_and_block(spec, plans, dev, precision, flash_attention, autocast, tp_overlap)[0]


def _stage_and_block(
    spec: ModelSpec,
    plans: Plans,
    dev: DeviceModel,
    precision: str,
    flash_attention: bool = True,
    autocast: bool = False,
    tp_overlap: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(microbatch_stage_time's parts, one block's forward seconds, one block's forward +
    backward + recompute seconds): the windows that hide FSDP's per-block communication.

    A block's time depends only on (micro-batch, tp, sp, recompute, cp, the stage's
    first device), which take few distinct values across a search, so it is computed
    once per distinct tuple."""
    cross = (plans.tp * plans.cp > dev.devices_per_node).astype(np.int64)
    key = (((plans.mb * 4096 + plans.tp) * 2 + plans.sp) * 3 + plans.rec) * 1024 + plans.cp
    key = (key * 2 + cross) * 8192 + plans.ep
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    u = plans.take(first)
    per_block, head, fwd_block = _block_and_head(
        spec, u, dev, precision, flash_attention, autocast, tp_overlap
    )
    parts = stage_time(spec.layers, plans.pp, per_block[:, inverse], head[:, inverse])
    return parts, fwd_block[inverse], per_block.sum(axis=0)[inverse]


def _measured_attention(
    core: list[Op], dev: DeviceModel, precision: str, n: int, per_head: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """(forward, backward) seconds of the fused attention kernel from the profile's
    curves, which are indexed by the forward FLOPs of one sequence and head
    (`per_head`, as the attention benchmark counts them): the work one kernel tile
    loop sees, while batch and heads multiply it. None without curves."""
    fwd_curve = dev.attention.get(precision)
    bwd_curve = dev.attention_backward.get(precision)
    if fwd_curve is None or bwd_curve is None:
        return None
    flops = np.asarray(sum(op.flops for op in core if op.kind == "matrix"), dtype=float)
    peak = dev.peak(precision)
    eff = peak * dev.training_efficiency
    t_fwd = flops / (eff * fwd_curve(per_head)) + dev.kernel_overhead
    t_bwd = 2 * flops / (eff * bwd_curve(per_head)) + dev.kernel_overhead
    return np.broadcast_to(t_fwd, (n,)), np.broadcast_to(t_bwd, (n,))


def attention_precision(precision: str, dev: DeviceModel) -> str:
    """The dtype of the attention core's matmuls (scores and context). FP8/FP4 recipes
    quantise the linear layers only and keep the attention core in BF16: torchao's
    Float8 "covers only nn.Linear; attention stays BF16" (published-runs-2.md,
    torchtitan), and FP8 attention is a separate opt-in in NeMo recipes
    (finetune-notes.md: "no FP8 attention")."""
    if precision in ("fp8", "fp4") and "bf16" in dev.peak_flops:
        return "bf16"
    return precision


def _block_and_head(
    spec: ModelSpec,
    plans: Plans,
    dev: DeviceModel,
    precision: str,
    flash_attention: bool,
    autocast: bool = False,
    tp_overlap: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-block parts, head parts, per-block forward seconds)."""
    elem = dtype_bytes(precision)  # type: ignore[arg-type]
    autocast = autocast and precision != "fp32"
    residual = 4 if autocast else elem
    sp = plans.sp.astype(float)
    b, t = plans.mb.astype(float), plans.tp.astype(float)
    cp = plans.cp.astype(float)
    ops = block_ops(
        spec,
        b=b,
        t=t,
        sp=sp,
        elem=elem,
        causal_fraction=0.5 if flash_attention else 1.0,
        fused_attention=flash_attention,
        residual_elem=residual,
        cp=cp,
        ep=plans.ep.astype(float),
    )
    n = len(plans)
    core_ops = [o for o in ops if o.name in ATTENTION_CORE]
    rest = [o for o in ops if o.name not in ATTENTION_CORE]
    main = _sum(rest, dev, precision, plans.tp)
    main_bwd = _backward_sum(rest, dev, precision, plans.tp, tp_overlap)
    causal = 0.5 if flash_attention else 1.0
    per_head = 4.0 * spec.seq_len**2 * spec.d_head * causal
    attn = attention_precision(precision, dev)
    measured = _measured_attention(core_ops, dev, attn, n, per_head) if flash_attention else None
    if measured is not None:
        zeros = np.zeros(n)
        core_fwd = np.stack([measured[0], zeros, zeros])
        core_bwd = np.stack([measured[1], zeros, zeros])
    else:
        # One ring step's block per op (ops.block_ops); context parallelism runs cp.
        core_fwd = _sum(core_ops, dev, attn, plans.tp) * cp
        core_bwd = _backward_sum(core_ops, dev, attn, plans.tp, tp_overlap) * cp
        # Flash attention's backward recomputes the scores: one more forward attention
        # matmul pass (Dao 2023, Algorithm 2).
        if flash_attention:
            core_bwd = core_bwd + core_fwd * np.array([[0.5], [0.0], [0.0]])
    block_casts, head_casts = cast_ops(spec, b=b, t=t, sp=sp, elem=elem)
    casts = _sum(block_casts, dev, precision, plans.tp) if autocast else np.zeros((3, n))
    # Each autocast conversion has one conjugate conversion in backward. Full
    # recomputation reruns the whole forward, its tensor-parallel collectives included
    # (Megatron's checkpointed forward calls the same f/g operators; Korthikanti et al.
    # 2022 §5: full recomputation adds a forward pass).
    fwd = main + core_fwd + casts
    bwd = main_bwd + core_bwd + casts
    rec = plans.rec
    recompute = np.where(rec == 2, fwd, np.where(rec == 1, core_fwd, 0.0))
    if flash_attention:
        # Flash attention keeps no s x s activations, so selective recomputation is free.
        recompute = np.where(rec == 1, 0.0, recompute)
    per_block = fwd + bwd + recompute
    ring = _ring_time(spec, plans, dev, elem, core_fwd.sum(axis=0), core_bwd.sum(axis=0))
    ring = ring * np.where(rec == 2, 1.5, 1.0)  # full recomputation repeats the forward ring
    head = _sum(
        head_ops(spec, b=b, t=t, elem=elem, residual_elem=residual, cp=cp),
        dev,
        precision,
        plans.tp,
    ) * np.array([[3.0], [2.0], [1.0]])
    if autocast:
        head = head + 2.0 * _sum(head_casts, dev, precision, plans.tp)
    # Each multi-token prediction module is one more block and output head on the last
    # stage (DeepSeek-V3 §2.2; its 2h -> h projection is left out, < 1% of a block).
    head = head + spec.mtp_layers * (per_block + head)
    if dev.first_touch_bandwidth:
        blk, hd, _ = step_tensors(spec, b=b, t=t, sp=sp, elem=elem, autocast=autocast)
        per_block = per_block + np.array([[0.0], [1.0], [0.0]]) * first_touch_time(blk, dev)
        head = head + np.array([[0.0], [1.0], [0.0]]) * first_touch_time(hd, dev)
    # Ring attention overlaps the attention it feeds; a third of it is forward's (one
    # chunk out against two back, parallel.ring_attention_time).
    fwd_block = fwd.sum(axis=0) + ring / 3.0
    return np.vstack([per_block, ring]), np.vstack([head, np.zeros(n)]), fwd_block


def _ring_time(
    spec: ModelSpec,
    plans: Plans,
    dev: DeviceModel,
    elem: int,
    attn_fwd: np.ndarray,
    attn_bwd: np.ndarray,
) -> np.ndarray:
    """Exposed ring-attention seconds per block (parallel.ring_attention_time). CP ranks
    sit next to their TP group (Megatron's tp-cp-dp-pp rank order): on the chip link
    while tp·cp fits in a node, else on the node's NICs, one share per device."""
    chunk = ring_chunk_bytes(spec, plans.mb.astype(float), plans.tp, plans.cp, elem)
    intra = plans.tp * plans.cp <= dev.devices_per_node
    per_gpu_inter = dev.inter_node_bandwidth / dev.devices_per_node
    bw = np.where(intra, dev.intra_bus_bandwidth, per_gpu_inter)
    lat = np.where(intra, dev.intra_latency, dev.inter_latency)
    return ring_attention_time(chunk, plans.cp, attn_fwd, attn_bwd, bw, lat)


def first_touch_time(tensors: list[tuple[Any, float]], dev: DeviceModel) -> Any:
    """Seconds the first writes to freshly mapped memory cost: the tensors at least as
    large as the allocator maps fresh every time, at the measured first-touch rate."""
    if not dev.first_touch_bandwidth:
        return 0.0
    fresh = sum(
        np.where(np.asarray(nbytes) >= dev.first_touch_min_bytes, nbytes * count, 0.0)
        for nbytes, count in tensors
    )
    return fresh / dev.first_touch_bandwidth


def _stage_tensors(spec: ModelSpec, plans: Plans) -> np.ndarray:
    """Parameter tensors the optimizer loops over on the most loaded stage."""
    pt = param_tensors(spec)
    first = pt.embedding + pt.position
    last = pt.output + pt.final_norm
    stage = pt.per_layer * max_stage_layers(spec.layers, plans.pp)
    return stage + first + np.where(plans.pp == 1, last, 0)


def optimizer_bytes_per_param(optimizer: str, precision: str) -> float:
    """Memory traffic of one optimizer update per parameter: read the gradient, read
    and write each fp32 state, write the working weight."""
    g = w = float(dtype_bytes(precision))  # type: ignore[arg-type]
    mixed = precision != "fp32"
    master = 8.0 if mixed else 0.0
    states = {"adamw": 16.0, "sgd": 8.0, "adafactor": 0.5, "adam8bit": 4.0}[optimizer]
    if not mixed:
        w = 8.0  # read and write the fp32 weight itself
    return g + master + states + w


def step_time(
    spec: ModelSpec,
    plans: Plans,
    dev: DeviceModel,
    precision: str,
    optimizer: str = "adamw",
    grad_bytes: float | None = None,
    flash_attention: bool = True,
    dp_overlap: bool = True,
    autocast: bool = False,
    tp_overlap: bool = False,
    moe_load: float = 1.0,
    ep_overlap: bool = False,
) -> StepTime:
    """Seconds per optimizer step for every plan, by part. `autocast`: torch.autocast
    training (fp32 weights, gradients and optimizer; low-precision matmuls). MoE
    (advisor/model/moe.py): `moe_load` stretches the routed experts' compute and the
    all-to-all; `ep_overlap` hides the all-to-all behind the expert compute."""
    autocast = autocast and precision != "fp32"
    dev = dev.for_precision(precision)
    elem = dtype_bytes(precision)  # type: ignore[arg-type]
    state_elem = 4 if autocast else elem  # weights and gradients as stored and communicated
    g_bytes = grad_bytes if grad_bytes is not None else float(state_elem)
    parts, fwd_block, block = _stage_and_block(
        spec, plans, dev, precision, flash_attention, autocast, tp_overlap
    )
    moe = moe_step_parts(spec, plans, dev, elem, parts[0], moe_load, ep_overlap)
    parts = parts + np.array([[1.0], [0.0], [0.0], [0.0]]) * moe[0]  # busiest expert's wait
    t_mb = parts.sum(axis=0) + moe[1]
    m = plans.m.astype(float)
    compute, memory_bound, tp_comm = parts[0] * m, parts[1] * m, parts[2] * m
    cp_comm = parts[3] * m
    if dev.first_touch_bandwidth:  # weight gradients: allocated once per step
        t_dev = plans.tp.astype(float)
        _, _, grads_w = step_tensors(spec, b=1.0, t=t_dev, elem=elem, autocast=autocast)
        memory_bound = memory_bound + first_touch_time(grads_w, dev) / plans.pp
    bubble = (plans.pp - 1) / plans.vpp * t_mb
    pp_comm = p2p_time(spec, plans, dev, state_elem) * m
    counts = count_params(spec)
    stage_params = (
        counts.per_layer * max_stage_layers(spec.layers, plans.pp)
        + counts.embedding
        + counts.output * (plans.pp == 1)
    )
    p_dev = stage_params / plans.tp + expert_params_shift(counts, plans)
    grads = p_dev * g_bytes
    weights = p_dev * state_elem
    z = plans.zero
    reduce = dp_collective_terms(plans, dev, "all_reduce")
    gather = dp_collective_terms(plans, dev, "all_gather")  # reduce-scatter's too
    ar = reduce[0] + grads * reduce[1]
    rs = gather[0] + grads * gather[1]
    ag = gather[0] + weights * gather[1]
    # Per-step communication and the backward time available to hide it.
    backward_mb = t_mb * (2.0 / 3.0)
    comm_once = np.where(z == 0, ar, np.where(z == 1, rs + ag, np.where(z == 2, ag, 0.0)))
    fsdp = fsdp_per_block(spec, plans, gather, state_elem, g_bytes)
    comm_per_mb = np.where(z == 2, rs, np.where(z == 3, fsdp_total_per_microbatch(*fsdp), 0.0))
    total_comm = comm_once + comm_per_mb * m
    if dp_overlap:
        tail = reduce[0] + np.minimum(grads, DDP_BUCKET_BYTES) * reduce[1]
        hidden_once = np.maximum(comm_once - backward_mb, 0.0)
        exposed_once = np.where(
            z <= 1, np.maximum(hidden_once, np.minimum(tail, comm_once)), hidden_once
        )
        # ZeRO-3 per block: each block's compute hides the next block's gather (overlap.py)
        layered = fsdp_exposed_per_microbatch(*fsdp[:4], fwd_block, block - fwd_block, fsdp[4])
        exposed_mb = np.where(z == 3, layered, np.maximum(comm_per_mb - t_mb, 0.0)) * m
        exposed = exposed_once + exposed_mb
    else:
        exposed = total_comm
    group = dp_group(plans)
    exposed = np.where(group > 1, exposed, 0.0)
    opt_params = p_dev / np.where(z >= 1, update_group(counts, plans, p_dev), 1)
    optimizer_t = (
        opt_params
        * optimizer_bytes_per_param(optimizer, "fp32" if autocast else precision)
        / (dev.memory_bandwidth * dev.optimizer_efficiency)
    )
    if dev.optimizer_tensor_overhead:
        optimizer_t = optimizer_t + _stage_tensors(spec, plans) * dev.optimizer_tensor_overhead
    f = dev.time_factor  # the fitted stack/family correction scales every part alike
    return StepTime(
        compute=compute * f,
        memory_bound=memory_bound * f,
        tp_comm=tp_comm * f,
        pp_bubble=bubble * f,
        pp_comm=pp_comm * f,
        dp_comm_exposed=exposed * f,
        optimizer=optimizer_t * f,
        dp_comm_total=np.where(group > 1, total_comm, 0.0) * f,
        cp_comm=cp_comm * f,
        ep_comm=moe[1] * m * f,
    )
