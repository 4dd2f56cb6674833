"""Step time of LoRA and QLoRA: pretraining's step (advisor/model/time.py) corrected for
what a frozen base does not do and what adapters and a quantized base add.

- Frozen base: backward computes each frozen linear layer's input gradient but not its
  weight gradient, one matmul instead of two per forward matmul (Narayanan et al. 2021
  §3.2 count 2x forward for backward; the weight-gradient half is dropped). The output
  layer is frozen too.
- Adapters: per targeted matrix x·A (tokens x r x d_in) and (x·A)·B (tokens x d_out x r),
  forward, both gradients in backward, again under full recomputation, each a kernel at
  the device's efficiency for its (small) size plus the per-kernel overhead, the scale
  multiply by alpha/r (PEFT's `lora_B(lora_A(x)) * scaling`; its gradient is one more in
  backward) and the add of the adapter's output to the frozen layer's.
- Quantized base: every use of a quantized weight (forward, backward's input gradient,
  recomputation) dequantizes it: reads the stored values and constants and writes a
  16-bit copy, as memory traffic.
- Optimizer: steps the adapters only. Data-parallel reduction carries the adapters'
  gradients only (search.score passes their share of the bytes to step_time).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from advisor.finetune.memory import nf4_constant_bytes, quant_value_bytes
from advisor.finetune.params import (
    linear_rows_per_layer,
    lora_params_per_layer,
    quantized_params_per_layer,
    target_shapes,
    targeted,
)
from advisor.finetune.spec import FinetuneSpec
from advisor.model.device import DeviceModel
from advisor.model.memory import dtype_bytes
from advisor.model.op_time import op_time
from advisor.model.ops import Op, _matmul, _vector, block_ops, head_ops
from advisor.model.parallel import dp_group, max_stage_layers
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec
from advisor.model.time import Plans, StepTime, optimizer_bytes_per_param

FROZEN_LINEARS = (
    "qkv",
    "attn_out_proj",
    "router",
    "mlp_up",
    "mlp_down",
    "shared_up",
    "shared_down",
)
COLUMN = ("q", "k", "v", "gate", "up")  # column-parallel under TP: output split


def trainable_share(spec: ModelSpec, ft: FinetuneSpec) -> float:
    """Trainable over all parameters: the share of gradient bytes data parallelism moves."""
    return spec.layers * lora_params_per_layer(spec, ft) / count_params(spec).total


def adapter_ops(spec: ModelSpec, ft: FinetuneSpec, tokens: Any, t: Any, elem: int) -> list[Op]:
    """Forward ops of one block's adapters on one tensor-parallel rank."""
    r = ft.lora_rank
    ops: list[Op] = []
    for name, (d_in, d_out, n) in targeted(spec, ft).items():
        col = name in COLUMN
        k_in = d_in if col else d_in / t
        n_out = d_out / t if col else d_out
        for _ in range(n):
            ops.append(_matmul(f"lora_{name}_a", tokens, r, k_in, elem))
            ops.append(_matmul(f"lora_{name}_b", tokens, n_out, r, elem))
            # delta * (alpha / r): a pass over the adapter's output, and grad * scale back
            ops.append(_vector(f"lora_{name}_scale", tokens * n_out, elem, passes=2.0))
            ops.append(_vector(f"lora_{name}_add", tokens * n_out, elem, passes=3.0))
    return ops


def dequant_bytes_per_block(spec: ModelSpec, ft: FinetuneSpec, t: Any, elem: int) -> Any:
    """Traffic of dequantizing one block's linear weights once: read the stored values
    and constants, write the 16-bit copy."""
    if not ft.quantized:
        return 0.0 * t
    q = quantized_params_per_layer(spec) / t
    if ft.quant == "nf4":
        consts = q * nf4_constant_bytes(bool(ft.double_quant))
    else:
        consts = linear_rows_per_layer(spec) / t * 4.0
    return q * (quant_value_bytes(ft.quant or "none") + elem) + consts


def _deltas(
    spec: ModelSpec, u: Plans, dev: DeviceModel, precision: str, ft: FinetuneSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct plan: (block matrix seconds, block vector seconds, head matrix
    seconds) that fine-tuning adds (negative: removes) to one micro-batch."""
    elem = dtype_bytes(precision)  # type: ignore[arg-type]
    b, t = u.mb.astype(float), u.tp.astype(float)
    cp = u.cp.astype(float)
    tokens = b * spec.seq_len / cp
    ep = u.ep.astype(float)
    ops = block_ops(spec, b=b, t=t, sp=u.sp.astype(float), elem=elem, cp=cp, ep=ep)
    wgrad = sum(
        (op_time(op, dev, precision, u.tp)[0] for op in ops if op.name in FROZEN_LINEARS),
        np.zeros(len(u)),
    )
    full_rec = (u.rec == 2).astype(float)
    passes = 3.0 + full_rec  # forward, two gradients, recompute's forward
    a_mat = np.zeros(len(u))
    a_vec = np.zeros(len(u))
    for op in adapter_ops(spec, ft, tokens, t, elem):
        mat, vec, _ = op_time(op, dev, precision, u.tp)
        a_mat = a_mat + mat * passes
        a_vec = a_vec + vec * (2.0 + full_rec)  # the add, its gradient pass, recompute
    n_mats = sum(n for _, _, n in target_shapes(spec).values())
    traffic = dequant_bytes_per_block(spec, ft, t, elem)
    uses = 2.0 + full_rec  # forward, backward's input gradient, recompute
    if ft.quantized:
        per = traffic / n_mats
        t_dq = traffic / (dev.memory_bandwidth * dev.memory_efficiency(per))
        t_dq = t_dq / dev.training_efficiency + dev.kernel_overhead * n_mats
        a_vec = a_vec + uses * t_dq
    head = head_ops(spec, b=b, t=t, elem=elem, cp=cp)
    out = next(op for op in head if op.name == "output_proj")
    head_wgrad = op_time(out, dev, precision, u.tp)[0]
    return a_mat - wgrad, a_vec, -head_wgrad


def finetune_step_time(
    spec: ModelSpec,
    plans: Plans,
    dev: DeviceModel,
    precision: str,
    optimizer: str,
    st: StepTime,
    ft: FinetuneSpec,
    autocast: bool = False,
) -> StepTime:
    """`st` (pretraining's step time of the same plans, with the adapters' share of the
    gradient bytes) corrected for a frozen base, adapters and dequantization."""
    dev = dev.for_precision(precision)
    key = ((plans.mb * 4096 + plans.tp) * 2 + plans.sp) * 3 + plans.rec
    key = (key * 1024 + plans.cp) * 8192 + plans.ep
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    d_mat, d_vec, d_head = _deltas(spec, plans.take(first), dev, precision, ft)
    stage = max_stage_layers(spec.layers, plans.pp).astype(float)
    last = (plans.pp == 1).astype(float)
    mb_mat = stage * d_mat[inverse] + last * d_head[inverse]
    mb_vec = stage * d_vec[inverse]
    f = dev.time_factor
    m = plans.m.astype(float)
    bubble_share = (plans.pp - 1) / plans.vpp
    shard = np.where(plans.zero >= 1, dp_group(plans), 1)
    adapters = stage * lora_params_per_layer(spec, ft) / plans.tp / shard
    opt = (
        adapters
        * optimizer_bytes_per_param(optimizer, "fp32" if autocast else precision)
        / (dev.memory_bandwidth * dev.optimizer_efficiency)
    )
    if dev.optimizer_tensor_overhead:
        tensors = stage * 2 * sum(n for _, _, n in targeted(spec, ft).values())
        opt = opt + tensors * dev.optimizer_tensor_overhead
    return replace(
        st,
        compute=np.maximum(st.compute + f * m * mb_mat, 0.0),
        memory_bound=st.memory_bound + f * m * mb_vec,
        pp_bubble=st.pp_bubble + f * bubble_share * (mb_mat + mb_vec),
        optimizer=opt * f,
    )
