"""Seconds of one op across plans: the roofline term of a matrix or vector op (with the
kernel overhead and measured rates of a calibrated device), a collective's latency +
bytes x factor / bus bandwidth (nccl-tests doc/PERFORMANCE.md), the backward of an op,
and Megatron's tensor-parallel backward collectives with their overlap."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.model.device import DeviceModel
from advisor.model.ops import Op

ATTENTION_CORE = ("attn_scores", "softmax", "attn_over_v")


def collective_time(kind: str, nbytes: Any, n: Any, bus_bw: float, latency: float) -> Any:
    """nccl-tests: busbw = algbw x factor, so t = latency + bytes x factor / busbw."""
    n = np.asarray(n, dtype=float)
    factor = 2 * (n - 1) / n if kind == "all_reduce" else (n - 1) / n
    t = latency + nbytes * factor / max(bus_bw, 1.0)
    return np.where(n > 1, t, 0.0)


def op_time(op: Op, dev: DeviceModel, precision: str, tp: Any) -> tuple[Any, Any, Any]:
    """(matrix seconds, vector seconds, communication seconds) of one forward op."""
    zero = np.zeros_like(np.asarray(tp, dtype=float))
    if op.kind == "matrix":
        # Roofline: a matmul with little reuse (attention's k = head_dim) is bound by
        # the bytes it reads and writes, not by its FLOPs.
        eff = dev.matmul_efficiency(precision)(op.flops / op.gemms)
        t_flops = op.flops / (dev.peak(precision) * eff)
        t_bytes = op.bytes / (dev.memory_bandwidth * dev.memory_efficiency(op.bytes))
        t = np.maximum(t_flops, t_bytes) / dev.training_efficiency + dev.kernel_overhead
        return t + zero, zero, zero
    if op.kind == "vector":
        eff = dev.memory_efficiency(op.bytes)
        t = op.bytes / (dev.memory_bandwidth * eff)
        rate = dev.vector_rate(op.vclass, "fp32" if op.elem == 4 else precision)
        if rate:
            t = np.maximum(t, op.elements / rate)
        t = t / dev.training_efficiency + dev.kernel_overhead * op.count
        return zero, t + zero, zero
    t = collective_time(op.collective, op.bytes, tp, dev.intra_bus_bandwidth, dev.intra_latency)
    return zero, zero, np.where(np.asarray(op.bytes) > 0, t, 0.0) + zero


def _sum(ops: list[Op], dev: DeviceModel, precision: str, tp: Any) -> np.ndarray:
    """Array of shape (3, n): matrix, vector, comm seconds summed over ops."""
    parts = [np.stack(op_time(op, dev, precision, tp)) for op in ops]
    return np.sum(parts, axis=0) if parts else np.zeros((3, np.size(tp)))


def backward_vector_factor(op: Op) -> float:
    """Backward elementwise traffic over forward. A norm, activation or softmax gradient
    reads the saved input (or output) and the incoming gradient and writes one gradient:
    3 tensors against the forward's 2 (PyTorch's layer_norm_backward, gelu_backward,
    _softmax_backward_data signatures; Megatron's fused kernels keep the same operands).
    A residual add's gradient passes through unchanged and the two branches' gradients
    meet in one add of 3 tensors, as many as the forward add moved; a cast's conjugate
    moves what the cast did."""
    return 1.5 if op.vclass in ("norm", "activation", "softmax") else 1.0


# Megatron's column-parallel layers (QKV, MLP up) and the collectives around them:
# (forward all-gather before it, forward reduction after its row-parallel partner, GEMM).
TP_HALVES = (
    ("tp_all_gather_attn", "tp_reduce_attn", "qkv"),
    ("tp_all_gather_mlp", "tp_reduce_mlp", "mlp_up"),
)


def backward_tp_comm(times: dict[str, tuple[Any, Any, Any]], overlap: bool) -> Any:
    """Exposed backward tensor-parallel seconds of one block. Conjugates of Megatron's
    operators (Shoeybi et al. 2019 §3 f/g; Korthikanti et al. 2022 §4.2.2): the column
    layer's input gradient is all-reduced (reduce-scattered with SP), the same bytes as
    the forward reduction; with SP the row layer's output gradient is all-gathered, and
    the column layer's input, stored sharded, is gathered again for its weight gradient.
    `overlap` (Megatron-LM, megatron/core/tensor_parallel/layers.py,
    LinearWithGradAccumulationAndAsyncCommunication): the input-gradient collective runs
    asynchronously beside the weight-gradient GEMM and the re-gather beside the
    input-gradient GEMM, each as long as the forward GEMM; only the excess is exposed."""
    total: Any = 0.0
    for gather, reduce, gemm in TP_HALVES:
        if gather not in times or reduce not in times:
            continue
        t_ag, t_red, t_gemm = times[gather][2], times[reduce][2], times[gemm][0]
        column, regather = t_red, t_ag
        if overlap:
            column = np.maximum(column - t_gemm, 0.0)
            regather = np.maximum(regather - t_gemm, 0.0)
        total = total + column + t_ag + regather
    return total


def _backward_sum(
    ops: list[Op], dev: DeviceModel, precision: str, tp: Any, tp_overlap: bool
) -> np.ndarray:
    """(3, n) backward seconds of forward `ops`: two GEMMs per forward GEMM, elementwise
    gradients by `backward_vector_factor`, tensor-parallel collectives by
    `backward_tp_comm`."""
    times = {op.name: op_time(op, dev, precision, tp) for op in ops}
    n = np.size(tp)
    matrix = sum((2.0 * times[op.name][0] for op in ops), np.zeros(n))
    vector = np.zeros(n)
    for op in ops:
        if op.kind == "vector":  # the traffic scales; the kernels stay two, as calibrated
            fixed = dev.kernel_overhead * op.count
            vector = vector + backward_vector_factor(op) * (times[op.name][1] - fixed) + 2 * fixed
    comm = backward_tp_comm(times, tp_overlap) + np.zeros(n)
    return np.stack([matrix, vector, comm])
