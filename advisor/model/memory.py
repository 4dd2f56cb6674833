"""Memory per device: model states, activations, buffers and overhead.

Model states (weights, gradients, optimizer states and their bookkeeping
conventions) are in states.py.

Activations follow Korthikanti et al. 2022, §4 and Table 2, written per stored
tensor so that GQA, SwiGLU, MoE, dropout and fp32 change the right terms; for a
GPT block with dropout they are exactly Table 2 (34·s·b·h + 5·a·s²·b without
parallelism, 34·s·b·h/t with sequence parallel and selective recompute, 2·s·b·h
with full recompute). The first pipeline stage holds p micro-batches in flight
under 1F1B (L layers' worth in total) and L·(1 + (p-1)/(p·v)) under the
interleaved schedule (Korthikanti §4.2.3; Megatron's theoretical memory report).
Under amp the residual stream is fp32 (the embedding is, and adding a bf16
block output to it promotes to fp32), so the two norm inputs of a block are
4-byte tensors; everything a linear layer saves is its bf16 input cast.

The loss: Megatron fuses the cross-entropy and keeps one fp32 copy of the
logits (its report: 4·s·b·h·(1 + V/h)). Plain PyTorch (every other convention)
runs log_softmax then nll_loss; at the start of backward the log-softmax
output (saved for its backward), its gradient and the logits' gradient are
alive together, three fp32 s·b·V tensors, besides the final norm's input and
the output layer's input (`loss_buffer_bytes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.model.attention import attention_weights
from advisor.model.parallel import cp_of, max_stage_layers
from advisor.model.spec import (
    Convention,
    ModelSpec,
    ParallelPlan,
    Recompute,
    TrainingSpec,
)
from advisor.model.states import (  # noqa: F401  (re-exported: importers use memory)
    ModelStateMemory,
    StateBytes,
    adafactor_state_bytes,
    autocast,
    autocast_weight_cache_bytes,
    cast_params,
    dtype_bytes,
    model_state_memory,
    optimizer_moment_bytes,
    params_per_device,
    state_bytes,
)

GIB = 2**30


def activation_bytes_per_layer(
    spec: ModelSpec,
    b: Any,
    t: Any,
    sp: Any,
    recompute: Recompute,
    elem: int = 2,
    residual_elem: int | None = None,
) -> Any:
    """Activations one block stores for backward, per device (Korthikanti Table 2).

    `residual_elem` is the byte width of the residual stream (the two norm inputs,
    and the block input full recomputation keeps); default `elem`, 4 under autocast.

    Terms in units of s·b (one token's values):
      replicated unless SP: two norm inputs (2·2h), QKV input (2h), MLP input
      (2h), two dropout masks (2·h bytes, 1 byte each) = 10h for GPT;
      TP-sharded: Q and K (for QK^T), V, output-projection input, MLP
      intermediates (GELU: 2·2f; SwiGLU gate, up and product: 3·2f) = 24h for GPT;
      attention core (removed by selective recompute): softmax output 2·a·s,
      dropout mask a·s and dropout output 2·a·s = 5·a·s for GPT.
    """
    s, h, f = spec.seq_len, spec.hidden, spec.ffn
    half = elem / 2.0  # Korthikanti counts 2-byte activations; fp32 doubles tensors
    r_half = (residual_elem or elem) / 2.0
    drop = 1.0 if spec.dropout else 0.0
    sp_on = 1.0 if sp is True else (0.0 if sp is False else sp)
    sp_div = 1 + (t - 1) * sp_on
    sb = s * b
    if recompute == "full":
        return 2.0 * r_half * sb * h / sp_div
    a = attention_weights(spec)
    mlp_tensors = 3 if spec.mlp == "swiglu" else 2
    replicated = r_half * 4 * h + half * (2 * h + 2 * h) + drop * 2 * h
    # Q, K and V for the core, the output projection's input; MLA also keeps the
    # latents its up-projections read (attention.py).
    attn = 2 * a.q_width + 2 * a.kv_width + 2 * a.out_in
    if spec.is_mla:
        attn += 2 * ((spec.q_lora_rank or 0) + (spec.kv_lora_rank or 0))
    sharded = half * attn + spec.experts_per_token * half * (2 * f * mlp_tensors)
    if spec.is_moe:  # the permuted copies of each token the routed experts read
        sharded += half * 2 * h * spec.top_k
    per_token = replicated / sp_div + sharded / t
    core = 0.0 if recompute == "selective" else spec.heads * s * (half * 2 + drop * (1 + half * 2))
    return sb * per_token + sb * core / t


def in_flight_microbatches(plan: Any) -> Any:
    """Micro-batches whose activations the first stage holds at peak: min(m, p) under
    1F1B, p·(1 + (p-1)/(p·v)) under the interleaved schedule (Korthikanti §4.2.3)."""
    p = np.asarray(plan.pp, dtype=float)
    v = np.asarray(plan.vpp, dtype=float)
    m = np.asarray(plan.grad_accum, dtype=float)
    live = np.where(v > 1, p * (1 + (p - 1) / (p * v)), np.minimum(m, p))
    return np.where(p == 1, 1.0, live)


def in_flight_layers(spec: ModelSpec, plan: Any) -> Any:
    """Layers' worth of activations on the first stage: its ceil(L/p) layers per
    micro-batch."""
    return max_stage_layers(spec.layers, plan.pp) * in_flight_microbatches(plan)


def embedding_and_logits_bytes(
    spec: ModelSpec,
    plan: Any,
    elem: int = 2,
    convention: Convention = "megatron",
    residual_elem: int | None = None,
) -> Any:
    """Buffers outside the blocks (Megatron theoretical memory report): token ids
    (8 bytes each) and the embedding dropout mask for each micro-batch in flight;
    with one stage also the loss buffers: Megatron's fused loss keeps the
    output-layer input and fp32 logits, 4·s·b·h·(1 + V/h); other conventions the
    unfused PyTorch loss (`loss_buffer_bytes`). Divided by t (vocab-parallel output,
    sequence parallel)."""
    s, b, h = spec.seq_len, plan.micro_batch, spec.hidden
    live = in_flight_microbatches(plan)
    out = 8.0 * s * b * live
    if spec.dropout:
        out = out + s * b * h * live
    if convention == "megatron":
        logits = 4.0 * s * b * h * (1 + spec.vocab / h) * (elem / 2.0 if elem > 2 else 1.0)
    else:
        logits = loss_buffer_bytes(spec, b, elem, residual_elem)
    out = out + np.where(np.asarray(plan.pp) == 1, logits, 0.0)
    return out / plan.tp


def loss_buffer_bytes(
    spec: ModelSpec, b: Any, elem: int = 2, residual_elem: int | None = None
) -> Any:
    """The unfused PyTorch loss at its peak, the start of backward: the final norm's
    input (residual stream) and the output layer's input, then three fp32 s·b·V
    tensors: log_softmax's saved output, its gradient (from nll_loss) and the logits'
    gradient (log_softmax's backward). The loss is computed in fp32 whatever the
    training dtype (autocast runs it in fp32; bf16 logits are cast up first)."""
    sb = spec.seq_len * b
    return sb * spec.hidden * ((residual_elem or elem) + elem) + 3 * 4.0 * sb * spec.vocab


def activation_bytes_per_layer_codes(
    spec: ModelSpec,
    b: Any,
    t: Any,
    sp: Any,
    rec: Any,
    elem: int = 2,
    residual_elem: int | None = None,
) -> Any:
    """`activation_bytes_per_layer` with recompute given as codes 0/1/2 (arrays)."""
    by = {
        r: activation_bytes_per_layer(spec, b, t, sp, r, elem, residual_elem)  # type: ignore[arg-type]
        for r in ("none", "selective", "full")
    }
    return np.where(rec == 2, by["full"], np.where(rec == 1, by["selective"], by["none"]))


REC_CODE = {"none": 0, "selective": 1, "full": 2}


def recompute_working_bytes(
    spec: ModelSpec, b: Any, t: Any, sp: Any, elem: int = 2, residual_elem: int | None = None
) -> Any:
    """What full recomputation adds in backward: one block rematerialised at a time, less
    its input, which is the checkpoint already held (the first norm saves that same
    tensor). The block is counted as selective recomputation stores it, without the
    attention core: flash attention never materialises the s x s scores, and without it
    the core is transient working memory of one layer that Korthikanti Table 2 leaves out
    for selective recomputation too. Hence full <= selective <= none for every plan."""
    block = activation_bytes_per_layer(spec, b, t, sp, "selective", elem, residual_elem)
    checkpoint = activation_bytes_per_layer(spec, b, t, sp, "full", elem, residual_elem)
    return block - checkpoint


def activation_memory(
    spec: ModelSpec,
    plan: Any,
    training: TrainingSpec,
    rec: Any = None,
    flash_attention: bool = False,
) -> Any:
    """Peak activation bytes on the first pipeline stage. `rec` (codes 0/1/2) overrides
    training.recompute for array-valued plans. Flash attention (Dao et al. 2022) stores
    no s x s scores, so without recomputation it holds what selective recomputation does.
    Context parallelism keeps s/cp of every sequence per rank: all of it divided by cp
    (the attention scores without flash attention are (s/cp) x s, so also 1/cp)."""
    elem = dtype_bytes(training.precision)
    residual = 4 if autocast(training) else elem
    tp = np.asarray(plan.tp)
    sp = np.where(tp > 1, np.asarray(plan.sp, dtype=float), 0.0)
    code = REC_CODE[training.recompute] if rec is None else np.asarray(rec)
    if flash_attention:
        code = np.where(code == 0, 1, code)
    b = plan.micro_batch
    per_layer = activation_bytes_per_layer_codes(spec, b, plan.tp, sp, code, elem, residual)
    stored = per_layer * in_flight_layers(spec, plan)
    working = np.where(
        code == 2, recompute_working_bytes(spec, b, plan.tp, sp, elem, residual), 0.0
    )
    head = embedding_and_logits_bytes(spec, plan, elem, training.convention, residual)
    return (stored + working + head) / cp_of(plan)


@dataclass(frozen=True)
class MemoryReport:
    """Bytes per device by category; `other` is buffers and framework overhead."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    other: float
    capacity: float | None

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations + self.other

    @property
    def fits(self) -> bool | None:
        return None if self.capacity is None else self.total <= self.capacity

    def as_dict(self) -> dict[str, float]:
        return {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "activations": self.activations,
            "other": self.other,
            "total": self.total,
        }


def memory_report(
    spec: ModelSpec,
    plan: ParallelPlan,
    training: TrainingSpec,
    capacity_bytes: float | None,
    overhead_bytes: float,
) -> MemoryReport:
    """Everything on the most loaded device, against its capacity."""
    states = model_state_memory(spec, plan, training)
    return MemoryReport(
        weights=float(states.weights),
        gradients=float(states.gradients),
        optimizer=float(states.optimizer),
        activations=float(activation_memory(spec, plan, training)),
        other=float(states.gathered) + overhead_bytes,
        capacity=capacity_bytes,
    )
