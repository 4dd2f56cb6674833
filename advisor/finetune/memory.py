"""Memory per device of LoRA and QLoRA, over plan arrays (full fine-tuning is
advisor/model/memory.py unchanged).

Parts, and how they add up (what `estimate --json` reports):
  weights = base_weights + quant_constants + adapters (the adapters' own weights);
  gradients, optimizer = the adapters' gradients and optimizer states (the frozen base
  has none: Hu et al. 2021 §4.2, "we do not need to calculate the gradients or maintain
  the optimizer states for most parameters");
  total = weights + gradients + optimizer + activations + other, as for pretraining.
`other` holds the framework overhead, the dequantized working copy of one linear layer
and, under ZeRO-3, the gathered blocks.

Storage of the frozen base (finetune-notes.md, "Bytes per parameter"; bitsandbytes
functional.py `quantize_4bit`): NF4 packs two 4-bit values per byte (0.5 B/param) with
one fp32 absmax per block of 64 (4/64 B/param); double quantization stores that absmax
in 8 bits (1/64 B/param) plus one fp32 constant per 256 absmax blocks (4/(64·256)):
4.127 bits per parameter, the QLoRA paper's 0.127-bit figure. Only the linear layers of
the blocks are quantized; embedding, output layer, norms and biases stay 16-bit.
int8 (LLM.int8(), bitsandbytes Linear8bitLt): 1 byte per weight plus one fp32 scale
per output row: a named assumption (the notes give NF4's layout, not int8's).

Under the 'amp' convention (torch.autocast over an fp32 model, what `advisor validate`
trains) the frozen 16-bit base is fp32, 4 bytes per weight, and autocast's casts cost
twice what the pretraining count assumes (measured on CPU: live tensors of a LoRA step
came out 14% above a 2-byte base with no casts, within 3% once these are counted):
- autocast caches a weight's cast only for leaf tensors that require grad
  (aten/src/ATen/autocast_mode.cpp, `cached_cast`), so a frozen weight is cast anew each
  forward, and autograd keeps that bf16 copy for the layer's input gradient: 2 bytes per
  frozen matmul parameter until the layer's backward (`frozen_cast_bytes`, under 'other',
  beside the dequantized copy a quantized base needs instead);
- each adapter's A saves its own cast of its input, so matrices that share an input
  (q, k, v; gate, up) keep one bf16 copy each where the fused frozen layer keeps one
  (`autocast_input_copies`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from advisor.finetune.params import (
    adafactor_adapter_state_bytes,
    adapter_widths_per_layer,
    largest_linear,
    linear_rows_per_layer,
    lora_params_per_layer,
    quantized_params_per_layer,
    targeted,
)
from advisor.finetune.spec import FinetuneSpec
from advisor.model.memory import (
    REC_CODE,
    StateBytes,
    activation_memory,
    autocast,
    autocast_weight_cache_bytes,
    dtype_bytes,
    in_flight_layers,
    optimizer_moment_bytes,
    params_per_device,
    state_bytes,
)
from advisor.model.parallel import cp_of, dp_group, max_stage_layers
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec, TrainingSpec

NF4_BLOCK = 64  # bitsandbytes quantize_4bit default blocksize
DQ_BLOCK = 256  # double quantization: quantize_blockwise(absmax, blocksize=256)
FP32 = 4.0


def quant_value_bytes(quant: str) -> float:
    """Bytes of one stored weight: NF4 two per uint8, int8 one."""
    return {"nf4": 0.5, "int8": 1.0}.get(quant, 0.0)


def nf4_constant_bytes(double_quant: bool) -> float:
    """Quantization constants per NF4 weight: fp32 absmax per 64 (0.0625 B), or with
    double quantization an 8-bit absmax per 64 and an fp32 per 256 of those."""
    if double_quant:
        return 1.0 / NF4_BLOCK + FP32 / (NF4_BLOCK * DQ_BLOCK)
    return FP32 / NF4_BLOCK


def nf4_bytes(n_params: int, double_quant: bool = True) -> tuple[float, float]:
    """(packed values, constants) bytes of `n_params` NF4 weights."""
    return n_params * 0.5, n_params * nf4_constant_bytes(double_quant)


def adapter_moment_bytes(optimizer: str, spec: ModelSpec, ft: FinetuneSpec) -> float:
    """Optimizer state per adapter parameter (advisor/model/memory.optimizer_moment_bytes
    for adamw, sgd and adam8bit; Adafactor factored over the adapters' own matrices).
    Paged optimizers hold the same bytes on the device between spikes."""
    if optimizer != "adafactor":
        return optimizer_moment_bytes(optimizer, spec)  # type: ignore[arg-type]
    return adafactor_adapter_state_bytes(spec, ft) / max(lora_params_per_layer(spec, ft), 1)


def adapter_moments(training: TrainingSpec, spec: ModelSpec, ft: FinetuneSpec) -> float:
    """Moment bytes per adapter parameter; the 'pure' convention keeps them in the
    working dtype (8-bit states stay 8-bit)."""
    moments = adapter_moment_bytes(training.optimizer, spec, ft)
    if training.convention == "pure" and training.optimizer != "adam8bit":
        return moments * dtype_bytes(training.precision) / FP32
    return moments


def adapter_state_bytes(training: TrainingSpec, spec: ModelSpec) -> StateBytes:
    """Bytes per adapter parameter of weights, gradients and master copy. Under the
    'advisor' convention the adapters train in the working dtype with fp32 optimizer
    moments and no fp32 master: 2 + 2 + 8 bytes with AdamW (finetune-notes.md, "Memory
    per trainable parameter": 2 + 2 + 8, +4 with an fp32 master; that the common LoRA
    recipes keep no master is an assumption). The other conventions keep theirs
    (amp: fp32 weights and gradients; megatron, deepspeed: an fp32 master)."""
    sb = state_bytes(training.precision, training.optimizer, training.convention, spec)
    if training.convention == "advisor":
        return replace(sb, master=0.0)
    return sb


@dataclass(frozen=True)
class FinetuneMemory:
    """Bytes on the most loaded device (arrays over plans)."""

    base_weights: Any
    quant_constants: Any
    adapters: Any  # the adapters' weights
    gradients: Any
    optimizer: Any
    activations: Any
    buffers: Any  # dequantized working copy + ZeRO-3 gathered blocks (under 'other')

    @property
    def weights(self) -> Any:
        return self.base_weights + self.quant_constants + self.adapters


def base_elem_bytes(training: TrainingSpec) -> float:
    """Bytes of one unquantized frozen weight: fp32 under 'amp' (torch.amp keeps the model
    in fp32 and casts per op), else the training dtype."""
    return 4.0 if training.convention == "amp" else float(dtype_bytes(training.precision))


def frozen_cast_bytes(
    spec: ModelSpec, plan: Any, training: TrainingSpec, ft: FinetuneSpec, n_adapt: Any
) -> Any:
    """Autocast's bf16 copies of the weights on the most loaded device: the frozen matmul
    weights' (cast each forward, kept by autograd for the input gradient: the pretraining
    count of `autocast_weight_cache_bytes`) and the adapters' (cached). A quantized base
    is dequantized instead (its copy is counted apart)."""
    if not autocast(training):
        return 0.0 * n_adapt
    base = 0.0 if ft.quantized else autocast_weight_cache_bytes(spec, plan, training)
    return base + np.where(np.asarray(plan.zero) >= 3, 0.0, 2.0 * n_adapt)


def autocast_input_copies(spec: ModelSpec, ft: FinetuneSpec) -> float:
    """Extra values per token one block keeps under autocast: every adapted matrix's A
    saves its own bf16 cast of the input, one more than the fused count for each further
    matrix that shares it (q, k, v read one input; gate and up another, per routed token)."""
    groups = ((("q", "k", "v"), 1), (("gate", "up"), spec.top_k))
    shapes = targeted(spec, ft)
    return float(
        sum(max(0, sum(t in shapes for t in names) - 1) * spec.hidden * n for names, n in groups)
    )


def base_storage(
    spec: ModelSpec, plan: Any, training: TrainingSpec, ft: FinetuneSpec
) -> tuple[Any, Any]:
    """(base weight bytes, quantization constant bytes) on the most loaded device,
    before ZeRO-3 sharding."""
    counts = count_params(spec)
    elem = base_elem_bytes(training)
    stage = max_stage_layers(spec.layers, plan.pp)
    total = params_per_device(counts, plan)
    if not ft.quantized:
        return total * elem, total * 0.0
    quant = stage * quantized_params_per_layer(spec) / plan.tp
    values = (total - quant) * elem + quant * quant_value_bytes(ft.quant or "none")
    if ft.quant == "nf4":
        consts = quant * nf4_constant_bytes(bool(ft.double_quant))
    else:
        consts = stage * linear_rows_per_layer(spec) / plan.tp * FP32
    return values, consts


def adapter_activation_bytes(spec: ModelSpec, b: Any, ft: FinetuneSpec, elem: int) -> Any:
    """One block's adapter intermediates kept for backward: x·A, r values per token per
    targeted matrix (its input x is the frozen layer's, stored already)."""
    return elem * spec.seq_len * b * adapter_widths_per_layer(spec, ft)


def finetune_memory(
    spec: ModelSpec,
    plan: Any,
    training: TrainingSpec,
    ft: FinetuneSpec,
    rec: Any = None,
    flash_attention: bool = False,
) -> FinetuneMemory:
    """Memory of a frozen base with trained LoRA adapters, per part. Activations are the
    pretraining model's (every linear input stored, a conservative count when only some
    layers are adapted) plus the adapters' x·A; with full recomputation those live for
    one block at a time."""
    z = np.asarray(plan.zero)
    group = dp_group(plan)
    shard_w = np.where(z >= 3, group, 1)
    shard_g = np.where(z >= 2, group, 1)
    shard_o = np.where(z >= 1, group, 1)
    base, consts = base_storage(spec, plan, training, ft)
    stage = max_stage_layers(spec.layers, plan.pp)
    n_adapt = stage * lora_params_per_layer(spec, ft) / plan.tp
    sb = adapter_state_bytes(training, spec)
    moments = adapter_moments(training, spec, ft)
    code = REC_CODE[training.recompute] if rec is None else np.asarray(rec)
    act = activation_memory(spec, plan, training, rec=code, flash_attention=flash_attention)
    elem = dtype_bytes(training.precision)
    extra = adapter_activation_bytes(spec, plan.micro_batch, ft, elem)
    if autocast(training):
        extra = extra + elem * spec.seq_len * plan.micro_batch * autocast_input_copies(spec, ft)
    stored = np.where(code == 2, extra, extra * in_flight_layers(spec, plan))
    elem_w = 4.0 if autocast(training) else float(elem)
    dequant = largest_linear(spec) / plan.tp * elem_w if ft.quantized else 0.0
    per_block = (base + consts) / np.maximum(stage, 1)
    gathered = np.where(z >= 3, 2.0 * per_block, 0.0)
    return FinetuneMemory(
        base_weights=base / shard_w,
        quant_constants=consts / shard_w,
        adapters=sb.weights * n_adapt / shard_w,
        gradients=(sb.grads + sb.fp32_grads) * n_adapt / shard_g,
        optimizer=(sb.master + moments) * n_adapt / shard_o,
        activations=act + stored / cp_of(plan),
        buffers=dequant + gathered + frozen_cast_bytes(spec, plan, training, ft, n_adapt),
    )
