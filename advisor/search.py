"""Vectorised plan search: every legal layout for a model on some nodes, scored at once.

For one device type and node size, `enumerate_plans` builds the cartesian product
of tensor parallel (dividing heads and the node), pipeline parallel (dividing
layers), virtual stages, sequence parallel, ZeRO stage, micro-batch and
recomputation for each device count, as numpy arrays; `score` computes memory and
step time for all of them in one pass (advisor/model/memory.py, time.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from advisor.finetune.spec import FinetuneSpec
from advisor.layout import TIE_TOLERANCE
from advisor.model.device import DeviceModel
from advisor.model.flops import hardware_flops_per_token, model_flops_per_token
from advisor.model.memory import activation_memory, autocast, dtype_bytes, model_state_memory
from advisor.model.moe import expert_load
from advisor.model.offload import HostPath, OffloadPass
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.model.time import REC_CODES, Plans, StepTime, step_time
from advisor.plan_space import (
    BATCH_TOLERANCE,
    CONTEXT_PARALLEL,
    CP_MIN_TOKENS_PER_RANK,
    MICRO_BATCHES,
    VIRTUAL_STAGES,
    enumerate_plans,
    nearest_batch,
    simplicity_key,
)

__all__ = [
    "BATCH_TOLERANCE",
    "CONTEXT_PARALLEL",
    "CP_MIN_TOKENS_PER_RANK",
    "MICRO_BATCHES",
    "VIRTUAL_STAGES",
    "Scored",
    "enumerate_plans",
    "nearest_batch",
    "plan_fields",
    "score",
    "simplicity_key",
]


@dataclass
class Scored:
    """Plans with their memory and time (arrays aligned with `plans`)."""

    plans: Plans
    memory_total: np.ndarray
    weights: np.ndarray
    gradients: np.ndarray
    optimizer: np.ndarray
    activations: np.ndarray
    other: np.ndarray
    fits: np.ndarray
    time: StepTime
    step_time: np.ndarray
    tokens_per_step: np.ndarray
    tokens_per_s: np.ndarray
    devices: np.ndarray
    mfu: np.ndarray
    hfu: np.ndarray
    roomy: np.ndarray | None = None  # fits and leaves the memory headroom free
    headroom: float = 0.0  # the fraction of capacity `roomy` leaves free
    # LoRA/QLoRA only (advisor/finetune/memory.py): parts of `weights`
    base_weights: np.ndarray | None = None
    quant_constants: np.ndarray | None = None
    adapters: np.ndarray | None = None
    # CPU offload (advisor/model/offload.py): host bytes per device, seconds per step
    host_memory: np.ndarray | None = None
    offload_transfer_s: np.ndarray | None = None
    offload_cpu_s: np.ndarray | None = None
    offload_mode: str = "none"
    offload_notes: tuple[str, ...] = ()

    def best(
        self,
        key: np.ndarray | None = None,
        among: np.ndarray | None = None,
        keep_headroom: bool = True,
        tolerance: float = TIE_TOLERANCE,
    ) -> int | None:
        """Index of the plan to run, None if none qualifies: among the plans that fit
        (leaving the headroom free unless `keep_headroom` is False, and within `among`), the
        simplest (`simplicity_key`) of those within `tolerance` of the fastest per token;
        with `key`, simply its smallest."""
        ok = self.roomy if keep_headroom and self.roomy is not None else self.fits
        idx = np.flatnonzero(ok if among is None else ok & among)
        k = (self.per_token if key is None else np.asarray(key))[idx]
        if not idx.size or not np.isfinite(k).any():
            return None
        first = int(np.argmin(k))
        if key is not None:
            return int(idx[first])
        near = k <= k[first] * (1 + tolerance)
        tied, k = idx[near], k[near]
        p = self.plans
        simple = simplicity_key(
            p.zero[tied],
            p.tp[tied],
            p.pp[tied],
            p.vpp[tied],
            p.mb[tied],
            p.rec[tied],
            p.cp[tied],
            p.ep[tied],
        )
        pick = np.flatnonzero(simple == simple.min())
        return int(tied[pick[np.argmin(k[pick])]])

    @cached_property
    def per_token(self) -> np.ndarray:
        """Seconds per token of every plan: what the search minimises."""
        return self.step_time / self.tokens_per_step

    def fastest(self, i: int) -> int | None:
        """The fastest plan on plan `i`'s device count that `best` weighed against it
        (within the headroom if plan `i` is)."""
        room = self.roomy is not None and bool(self.roomy[i])
        return self.best(among=self.devices == self.devices[i], keep_headroom=room, tolerance=0.0)


def score(
    spec: ModelSpec,
    training: TrainingSpec,
    plans: Plans,
    dev: DeviceModel,
    capacity_bytes: float,
    overhead_bytes: float,
    grad_bytes: float | None = None,
    flash_attention: bool = True,
    dp_overlap: bool = True,
    allocator_slack: float = 0.0,
    headroom: float = 0.0,
    tp_overlap: bool = False,
    finetune: FinetuneSpec | None = None,
    offload_mode: str = "none",
    host: HostPath | None = None,
) -> Scored:
    """Memory and step time of every plan in one vectorised pass. `allocator_slack` is
    memory the allocator holds beyond the live tensors, as a fraction of them (measured
    by a device's calibration; counted under 'other'). `headroom` is the fraction of
    capacity a chosen plan must leave free (`Scored.roomy`). `finetune`: LoRA/QLoRA
    (advisor/finetune/); None or method 'full' scores full training. `offload_mode`
    'optimizer' or 'params' moves states to host memory over `host` (offload.py)."""
    moved = OffloadPass(offload_mode, host, spec, plans)
    if finetune is not None and finetune.adapters:
        return moved.label(
            _score_adapters(
                spec,
                training,
                plans,
                dev,
                capacity_bytes,
                overhead_bytes,
                finetune,
                grad_bytes=grad_bytes,
                flash_attention=flash_attention,
                dp_overlap=dp_overlap,
                allocator_slack=allocator_slack,
                headroom=headroom,
                tp_overlap=tp_overlap,
                moved=moved,
            )
        )
    states = model_state_memory(spec, plans, training)
    act = activation_memory(spec, plans, training, rec=plans.rec, flash_attention=flash_attention)
    w, g, o = moved.memory(states.weights, states.gradients, states.optimizer)
    tensors = w + g + o + act + states.gathered
    other = states.gathered + overhead_bytes + allocator_slack * tensors
    st = _step_time(spec, training, plans, dev, grad_bytes, flash_attention, dp_overlap, tp_overlap)
    parts = (w, g, o, act, other)
    return moved.label(
        _scored(
            spec,
            training,
            plans,
            dev,
            moved.time(st),
            parts,
            capacity_bytes,
            headroom,
            flash_attention,
            **moved.extra(),
        )
    )


def _scored(
    spec: ModelSpec,
    training: TrainingSpec,
    plans: Plans,
    dev: DeviceModel,
    st: StepTime,
    parts: tuple[Any, Any, Any, Any, Any],
    capacity_bytes: float,
    headroom: float,
    flash_attention: bool,
    **extra: Any,
) -> Scored:
    """Scored from memory parts (weights, gradients, optimizer, activations, other) and
    step time."""
    weights, gradients, optimizer, act, other = parts
    total = weights + gradients + optimizer + act + other
    t = st.total
    tokens = (plans.m * plans.mb * plans.dp * spec.seq_len).astype(float)
    tps = tokens / t
    devices = plans.dp * plans.tp * plans.pp * plans.cp
    peak = dev.peak(training.precision)
    hw = np.array([hardware_flops_per_token(spec, r) for r in ("none", "selective", "full")])
    if flash_attention:
        hw[1] = hw[0]  # nothing extra is recomputed: flash attention keeps no scores
    mfu = model_flops_per_token(spec) * tps / (devices * peak)
    hfu = hw[plans.rec] * tps / (devices * peak)
    return Scored(
        plans=plans,
        memory_total=total,
        weights=np.broadcast_to(weights, t.shape),
        gradients=np.broadcast_to(gradients, t.shape),
        optimizer=np.broadcast_to(optimizer, t.shape),
        activations=np.broadcast_to(act, t.shape),
        other=np.broadcast_to(other, t.shape),
        fits=total <= capacity_bytes,
        time=st,
        step_time=t,
        tokens_per_step=tokens,
        tokens_per_s=tps,
        devices=devices,
        mfu=mfu,
        hfu=hfu,
        roomy=total <= capacity_bytes * (1.0 - headroom),
        headroom=headroom,
        **{k: np.broadcast_to(v, t.shape) for k, v in extra.items()},
    )


def _step_time(
    spec: ModelSpec,
    training: TrainingSpec,
    plans: Plans,
    dev: DeviceModel,
    grad_bytes: float | None,
    flash_attention: bool,
    dp_overlap: bool,
    tp_overlap: bool,
) -> StepTime:
    """`step_time` with what the training spec fixes: precision, optimizer, autocast and
    the MoE load factor (full training and adapters alike)."""
    return step_time(
        spec,
        plans,
        dev,
        training.precision,
        training.optimizer,
        grad_bytes=grad_bytes,
        flash_attention=flash_attention,
        dp_overlap=dp_overlap,
        autocast=autocast(training),
        tp_overlap=tp_overlap,
        moe_load=expert_load(training),
    )


def _score_adapters(
    spec: ModelSpec,
    training: TrainingSpec,
    plans: Plans,
    dev: DeviceModel,
    capacity_bytes: float,
    overhead_bytes: float,
    ft: FinetuneSpec,
    grad_bytes: float | None,
    flash_attention: bool,
    dp_overlap: bool,
    allocator_slack: float,
    headroom: float,
    tp_overlap: bool,
    moved: OffloadPass,
) -> Scored:
    """`score` for LoRA/QLoRA: memory from advisor/finetune/memory.py, pretraining's step
    time with the adapters' share of gradient bytes, corrected by advisor/finetune/time.py."""
    from advisor.finetune.memory import finetune_memory
    from advisor.finetune.time import finetune_step_time, trainable_share

    mem = finetune_memory(spec, plans, training, ft, rec=plans.rec, flash_attention=flash_attention)
    w, grads, o = moved.memory(mem.weights, mem.gradients, mem.optimizer)
    kept = w / np.where(mem.weights > 0, mem.weights, 1.0)  # share of weights left on device
    tensors = w + grads + o + mem.activations + mem.buffers
    other = mem.buffers + overhead_bytes + allocator_slack * tensors
    cast = autocast(training)
    elem = float(4 if cast else dtype_bytes(training.precision))
    g = grad_bytes if grad_bytes is not None else elem
    share = g * trainable_share(spec, ft)
    st = _step_time(spec, training, plans, dev, share, flash_attention, dp_overlap, tp_overlap)
    st = finetune_step_time(
        spec, plans, dev, training.precision, training.optimizer, st, ft, autocast=cast
    )
    parts = (w, grads, o, mem.activations, other)
    return _scored(
        spec,
        training,
        plans,
        dev,
        moved.time(st),
        parts,
        capacity_bytes,
        headroom,
        flash_attention,
        base_weights=mem.base_weights * kept,
        quant_constants=mem.quant_constants * kept,
        adapters=mem.adapters * kept,
        **moved.extra(),
    )


def plan_fields(plans: Plans, i: int) -> dict[str, Any]:
    rec = {v: k for k, v in REC_CODES.items()}
    return {
        "dp": int(plans.dp[i]),
        "tp": int(plans.tp[i]),
        "pp": int(plans.pp[i]),
        "cp": int(plans.cp[i]),
        "ep": int(plans.ep[i]),
        "vpp": int(plans.vpp[i]),
        "sp": bool(plans.sp[i]),
        "zero": int(plans.zero[i]),
        "micro_batch": int(plans.mb[i]),
        "grad_accum": int(plans.m[i]),
        "recompute": rec[int(plans.rec[i])],
    }
