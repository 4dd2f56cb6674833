"""Model states per device: weights, gradients and optimizer states.

Model states follow one of these bookkeeping conventions:
- advisor (PyTorch FSDP / ZeRO as in Rajbhandari et al. 2020, §3): working
  weights and gradients in the training dtype, fp32 master weights and
  optimizer moments; ZeRO-1 shards the optimizer (master + moments), ZeRO-2 also
  the gradients, ZeRO-3 (= FSDP full shard) also the weights. Mixed-precision
  AdamW: 2 + 2 + 12 = 16 bytes per parameter.
- deepspeed: the formulas of `estimate_zero2_model_states_mem_needs` and
  `estimate_zero3_model_states_mem_needs` (deepspeed/runtime/zero/stage_1_and_2.py,
  stage3.py): ZeRO-1/2 keep full fp16 weights and gradients and shard 16 bytes
  (fp32 weights, gradients, m, v): 4 + 16/n; ZeRO-3 shards 18 bytes and gathers
  the largest layer's fp16 weights and gradients (4 bytes x its parameters).
- megatron: fp32 main gradients (Megatron-LM
  megatron/training/theoretical_memory_usage.py): 18 bytes, or 6 + 12/dp with
  the distributed optimizer (ZeRO-1).
- amp (PyTorch's automatic mixed precision, torch.autocast; the torch.amp
  recipe): the weights stay fp32 and are what the optimizer updates, so there is
  no master copy: fp32 weights, fp32 gradients and the moments, 4 + 4 + 8 = 16
  bytes with AdamW. Autocast caches a low-precision cast of every weight a
  linear layer uses for the rest of the forward, and backward keeps those casts
  until the layer's gradient is done: 2 bytes per matmul weight and bias
  (`autocast_weight_cache_bytes`, counted with the weights).
- pure (litgpt `--precision bf16-true`, torchtune's bf16 recipes): weights,
  gradients and optimizer moments all in the training dtype, no master copy:
  2 + 2 + 4 = 8 bytes with AdamW (finetune-notes.md, LLaMA-Factory: "8 B/param
  pure bf16").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.model.moe import expert_dp_group, routed_params_per_device, routed_params_shift
from advisor.model.parallel import dp_group, max_stage_layers
from advisor.model.params import ParamCounts, count_params
from advisor.model.spec import Convention, ModelSpec, Optimizer, Precision, TrainingSpec


def dtype_bytes(precision: Precision) -> int:
    """Bytes of a working weight or activation. FP8 training keeps bf16 weights and
    activations and casts to fp8 inside the matmuls (Transformer Engine), so 2; NVFP4/MXFP4
    training does the same with FP4 GEMMs (Transformer Engine's NVFP4 recipe quantizes
    inside the linear layers and keeps bf16 weights and activations), so 2 as well."""
    return 4 if precision == "fp32" else 2


@dataclass(frozen=True)
class StateBytes:
    """Bytes per parameter of each model state, before sharding."""

    weights: float  # working copy (sharded at ZeRO-3)
    grads: float  # working gradients (sharded at ZeRO-2 under 'advisor')
    fp32_grads: float  # separate fp32 gradient copy (deepspeed, sharded with the optimizer)
    master: float  # fp32 master weights (sharded at ZeRO-1)
    moments: float  # optimizer state (sharded at ZeRO-1)


def optimizer_moment_bytes(optimizer: Optimizer, spec: ModelSpec) -> float:
    """Optimizer state per parameter.

    AdamW: m and v in fp32, 8 (Kingma & Ba 2015; Loshchilov & Hutter 2019).
    SGD with momentum: one fp32 buffer, 4.
    Adafactor: factored second moment, see `adafactor_state_bytes`, no first moment.
    8-bit Adam: m and v in int8 plus one fp32 absmax per 2048-value block each
    (Dettmers et al. 2022, §2): 2 + 8/2048.
    """
    if optimizer == "adamw":
        return 8.0
    if optimizer == "sgd":
        return 4.0
    if optimizer == "adam8bit":
        return 2.0 + 8.0 / 2048
    return adafactor_state_bytes(spec) / count_params(spec).total


def adafactor_state_bytes(spec: ModelSpec) -> float:
    """Adafactor (Shazeer & Stern 2018, §3): fp32 row and column statistics per weight
    matrix, 4·(rows + cols); a full fp32 second moment for vectors (biases, norms)."""
    c = count_params(spec)
    h, f = spec.hidden, spec.ffn
    q_w, kv_w = spec.heads * spec.d_head, spec.n_kv * spec.d_head
    mats = 3 if spec.mlp == "swiglu" else 2
    per_layer = (h + q_w) * 2 + (h + kv_w) * 2 + spec.experts * mats * (h + f)
    if spec.is_moe:
        per_layer += h + spec.experts
    factored = spec.layers * per_layer + (spec.vocab + h) * (1 + (c.output > 0))
    if c.position:
        factored += (spec.max_positions or spec.seq_len) + h
    matrix_params = spec.layers * (c.attention_matmul + spec.experts * c.mlp_expert_matmul)
    matrix_params += spec.layers * c.router + c.embedding + c.output + c.position
    vectors = c.total - matrix_params
    return 4.0 * (factored + vectors)


def state_bytes(
    precision: Precision, optimizer: Optimizer, convention: Convention, spec: ModelSpec
) -> StateBytes:
    """Bytes per parameter of each state under a convention."""
    mixed = precision != "fp32"
    w = float(dtype_bytes(precision))
    moments = optimizer_moment_bytes(optimizer, spec)
    master = 4.0 if mixed else 0.0
    if convention == "megatron":
        return StateBytes(weights=w, grads=4.0, fp32_grads=0.0, master=master, moments=moments)
    if convention == "deepspeed":
        return StateBytes(
            weights=w, grads=w, fp32_grads=4.0 if mixed else 0.0, master=master, moments=moments
        )
    if convention == "amp":
        return StateBytes(weights=4.0, grads=4.0, fp32_grads=0.0, master=0.0, moments=moments)
    if convention == "pure":  # moments in the working dtype too (8-bit ones stay 8-bit)
        low = moments if optimizer == "adam8bit" else moments * w / 4.0
        return StateBytes(weights=w, grads=w, fp32_grads=0.0, master=0.0, moments=low)
    return StateBytes(weights=w, grads=w, fp32_grads=0.0, master=master, moments=moments)


def autocast(training: TrainingSpec) -> bool:
    """Whether the training runs under torch.autocast in a low-precision dtype."""
    return training.convention == "amp" and training.precision != "fp32"


def cast_params(counts: ParamCounts, plan: Any) -> Any:
    """Parameters on the most loaded device that linear layers multiply (weights and
    biases; the output layer's even when tied): what autocast casts."""
    per_layer = counts.attention + counts.experts * counts.mlp_expert + counts.router
    stage = max_stage_layers(counts.layers, plan.pp) * per_layer
    stage = stage + np.where(np.asarray(plan.pp) == 1, counts.vocab_hidden, 0)
    return stage / plan.tp


def autocast_weight_cache_bytes(spec: ModelSpec, plan: Any, training: TrainingSpec) -> Any:
    """Autocast's cached low-precision weight casts, alive from the forward until each
    layer's backward: 2 bytes per matmul parameter (of the gathered ones under ZeRO-3,
    whose casts are made per gathered unit and counted with it)."""
    if not autocast(training):
        return 0.0
    return np.where(np.asarray(plan.zero) >= 3, 0.0, 2.0 * cast_params(count_params(spec), plan))


def params_per_device(counts: ParamCounts, plan: Any) -> Any:
    """Parameters on the most loaded device: the first pipeline stage holds the
    embedding (and, with one stage, the output layer), each TP rank 1/t of all.
    As in Megatron's report, norms are counted as if TP-sharded (they are tiny).
    With uneven stages the first holds ceil(L/p) blocks (advisor/model/parallel.py).
    `plan` is a ParallelPlan or array-valued Plans."""
    one_stage = np.asarray(plan.pp) == 1
    blocks = counts.per_layer * max_stage_layers(counts.layers, plan.pp)
    stage = blocks + counts.embedding + counts.position
    stage = stage + np.where(one_stage, counts.output + counts.final_norm, 0)
    # Routed experts are split by expert parallelism, not tensor parallelism (moe.py).
    return stage / plan.tp + routed_params_shift(counts, plan)


@dataclass(frozen=True)
class ModelStateMemory:
    weights: float
    gradients: float
    optimizer: float
    gathered: float  # ZeRO-3 buffers of gathered layers (counted under 'other')

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer


def model_state_memory(spec: ModelSpec, plan: Any, training: TrainingSpec) -> ModelStateMemory:
    """Bytes of weights, gradients and optimizer states on the most loaded device
    (arrays when `plan` holds arrays)."""
    counts = count_params(spec)
    p = params_per_device(counts, plan)
    sb = state_bytes(training.precision, training.optimizer, training.convention, spec)
    dp, z = dp_group(plan), np.asarray(plan.zero)  # ZeRO shards over data x context
    if counts.routed_per_layer:
        # Expert states shard over the expert-data group instead (moe.py): an effective
        # group that gives the same bytes for the device's dense and expert parameters.
        p_exp = routed_params_per_device(counts, plan)
        edp = expert_dp_group(plan)
        dp = p / np.maximum((p - p_exp) / dp + p_exp / edp, 1e-30)
    shard_w = np.where(z >= 3, dp, 1)
    shard_g = np.where(z >= 2, dp, 1)
    shard_o = np.where(z >= 1, dp, 1)
    if training.convention == "deepspeed":
        # estimate_zero2: full fp16 weights and gradients, 16 bytes sharded; estimate_zero3:
        # 18 bytes sharded (fp16 weights + fp32 weights, gradients and moments) and the
        # largest layer's fp16 weights and gradients gathered.
        z3 = z >= 3
        return ModelStateMemory(
            weights=np.where(z3, sb.weights * p / dp, sb.weights * p),
            gradients=np.where(
                z3, sb.fp32_grads * p / dp, sb.grads * p + sb.fp32_grads * p / shard_o
            ),
            optimizer=(sb.master + sb.moments) * p / shard_o,
            gathered=np.where(z3, (sb.weights + sb.grads) * counts.largest_module / plan.tp, 0.0),
        )
    # FSDP gathers one unit (a block) and prefetches the next: two in flight.
    gathered_elem = sb.weights + (2.0 if autocast(training) else 0.0)  # and their casts
    gathered = np.where(z >= 3, 2 * gathered_elem * counts.largest_layer / plan.tp, 0.0)
    return ModelStateMemory(
        weights=sb.weights * p / shard_w + autocast_weight_cache_bytes(spec, plan, training),
        gradients=sb.grads * p / shard_g,
        optimizer=(sb.master + sb.moments) * p / shard_o,
        gathered=gathered,
    )
