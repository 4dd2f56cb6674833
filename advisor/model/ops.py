"""The explicit list of forward operations of one transformer block, after Calculon.

Each op carries its FLOPs, the bytes it moves through device memory, and its
kind (matrix, vector, communication). All sizes are per device for one
micro-batch of `b` sequences of `s` tokens under tensor-parallel degree `t`.
Arguments may be numpy arrays, so one call describes many plans at once.

Conventions: a matmul of (m x k) by (k x n) is 2·m·n·k FLOPs (Narayanan et al.
2021, §5.1). Vector ops also carry their element count and a class (norm,
activation, softmax; none for plain adds), for devices whose profile measures
compute-bound elementwise throughput. Under torch.autocast (`residual_elem=4`)
the residual stream and the norms stay fp32 while matmuls and the MLP
activation run in the low-precision dtype; `cast_ops` lists the conversions
that autocast adds. Attention scores and attention over values are counted over the
full s x s square (`causal_fraction=1`), as PaLM (Chowdhery et al. 2022, App. B)
and Megatron do for model FLOPs; a causal kernel that skips the masked half
runs `causal_fraction=0.5` of that work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from advisor.model.attention import attention_weights, projection_flops_width, window_fraction
from advisor.model.spec import ModelSpec

Kind = Literal["matrix", "vector", "comm"]
Collective = Literal["all_reduce", "all_gather", "reduce_scatter", "none"]
VectorClass = Literal["norm", "activation", "softmax", "cast", ""]


@dataclass(frozen=True)
class Op:
    """One forward operation of a block, per device."""

    name: str
    kind: Kind
    flops: Any  # float or ndarray
    bytes: Any  # memory traffic (matrix/vector) or message size (comm)
    collective: Collective = "none"
    matmul_dims: tuple[Any, Any, Any] | None = None  # (m, n, k) per device
    elements: Any = 0.0  # vector ops: values computed
    vclass: VectorClass = ""  # vector ops: which measured throughput applies
    elem: int = 2  # vector ops: bytes per element of the dtype they run in
    count: Any = 1.0  # kernels this op stands for (each pays the fixed per-op time)
    gemms: Any = 1.0  # matrix ops: equal GEMMs it is made of (a MoE rank's local experts)


def _matmul(name: str, m: Any, n: Any, k: Any, elem: int) -> Op:
    """2·m·n·k FLOPs; reads A (m·k) and B (k·n), writes C (m·n)."""
    return Op(
        name,
        "matrix",
        2.0 * m * n * k,
        elem * (m * k + k * n + m * n),
        matmul_dims=(m, n, k),
    )


def _vector(
    name: str, elements: Any, elem: int, passes: float = 2.0, vclass: VectorClass = ""
) -> Op:
    """Elementwise work: reads and writes `passes` tensors of `elements`."""
    return Op(
        name,
        "vector",
        elements * 4.0,
        elements * elem * passes,
        elements=elements,
        vclass=vclass,
        elem=elem,
    )


def block_ops(
    spec: ModelSpec,
    b: Any,
    t: Any = 1,
    sp: Any = False,
    elem: int = 2,
    causal_fraction: float = 1.0,
    fused_attention: bool = False,
    residual_elem: int | None = None,
    cp: Any = 1,
    ep: Any = 1,
) -> list[Op]:
    """Forward ops of one transformer block for b sequences of spec.seq_len tokens.

    `fused_attention` (flash attention) keeps the s x s scores on chip, so the
    softmax moves no s x s bytes through device memory. `residual_elem` is the
    byte width of the residual stream and the norms (default `elem`; 4 under autocast).
    `cp`: context parallelism keeps s/cp tokens per rank, whose queries attend over all
    s keys in cp ring steps (advisor/model/parallel.py): the attention ops here are one
    step's, an (s/cp) x (s/cp) block, each its own kernel, and time.py runs cp of them;
    the K/V exchange between steps is timed apart. For cp = 1 they are the whole s x s.
    """
    r_elem = residual_elem or elem
    s, h, f = spec.seq_len, spec.hidden, spec.ffn
    s_local = s / cp
    tokens = b * s_local
    qkv_w = projection_flops_width(spec)  # attention.py: Q, K, V (MLA: its projections)
    out_in = attention_weights(spec).out_in
    heads_local = spec.heads / t
    sp_on = _truthy(sp)
    sp_div = 1 + (t - 1) * sp_on  # t with sequence parallelism, else 1
    act = tokens * h * elem  # one [b, s, h] tensor in bytes
    up_mats = 2 if spec.mlp == "swiglu" else 1
    # token-expert pairs: routed top_k plus shared experts. A MoE model's leading dense
    # blocks are counted as MoE blocks here (DeepSeek-V3's do the same FLOPs: 18432 =
    # 9 x 2048); flops.py counts them exactly.
    routed = tokens * spec.experts_per_token
    causal_fraction = causal_fraction * window_fraction(spec, causal=causal_fraction < 1)
    ops: list[Op] = [
        _vector("norm_attn", tokens * h / sp_div, r_elem, vclass="norm"),
    ]
    ops += [
        Op("tp_all_gather_attn", "comm", 0.0, act, "all_gather"),
        _matmul("qkv", tokens, qkv_w / t, h, elem),
        _matmul(
            "attn_scores", b * heads_local * s_local, s_local * causal_fraction, spec.d_head, elem
        ),
        _vector(
            "softmax",
            b * heads_local * s_local * s_local * causal_fraction * (0 if fused_attention else 1)
            + (b * heads_local * s_local if fused_attention else 0),
            elem,
            vclass="softmax",
        ),
        _matmul(
            "attn_over_v", b * heads_local * s_local, spec.d_v, s_local * causal_fraction, elem
        ),
        _matmul("attn_out_proj", tokens, h, out_in / t, elem),
        Op("tp_reduce_attn", "comm", 0.0, act, "all_reduce"),
        _vector("residual_attn", tokens * h / sp_div, r_elem, passes=3.0),
        _vector("norm_mlp", tokens * h / sp_div, r_elem, vclass="norm"),
        Op("tp_all_gather_mlp", "comm", 0.0, act, "all_gather"),
    ]
    if spec.is_moe:
        ops.append(_matmul("router", tokens, spec.experts, h, elem))
    if spec.is_moe:
        ops += expert_matmuls(spec, tokens, t, ep, elem)
    else:
        ops += [
            _matmul("mlp_up", routed, up_mats * f / t, h, elem),
            _matmul("mlp_down", routed, h, f / t, elem),
        ]
    ops += [
        _vector("mlp_activation", routed * f / t * up_mats, elem, passes=1.5, vclass="activation"),
        Op("tp_reduce_mlp", "comm", 0.0, act, "all_reduce"),
        _vector("residual_mlp", tokens * h / sp_div, r_elem, passes=3.0),
    ]
    return [_tp_comm(op, t, sp) for op in ops]


def expert_matmuls(spec: ModelSpec, tokens: Any, t: Any, ep: Any, elem: int) -> list[Op]:
    """The MoE MLP of one rank: its experts/ep routed experts as a grouped GEMM of equal
    per-expert GEMMs (balanced load: tokens·top_k·ep/experts rows each, its tokens being
    split over t with sequence parallelism; expert tensor parallel 1, advisor/model/moe.py),
    whose efficiency is that of one expert's GEMM (Gale et al. 2023, MegaBlocks §2: small
    per-expert matmuls), then the shared experts on every token like a dense MLP."""
    h, f = spec.hidden, spec.ffn
    up = 2 if spec.mlp == "swiglu" else 1
    local = spec.experts / ep
    rows = tokens * spec.top_k / t / local  # per local expert
    ops = [
        _grouped("mlp_up", rows, up * f, h, local, elem),
        _grouped("mlp_down", rows, h, f, local, elem),
    ]
    if spec.shared_experts:
        w = spec.shared_experts * f / t
        ops += [
            _matmul("shared_up", tokens, up * w, h, elem),
            _matmul("shared_down", tokens, h, w, elem),
        ]
    return ops


def _grouped(name: str, m: Any, n: Any, k: Any, gemms: Any, elem: int) -> Op:
    one = _matmul(name, m, n, k, elem)
    return Op(
        name,
        "matrix",
        one.flops * gemms,
        one.bytes * gemms,
        matmul_dims=(m, n, k),
        gemms=gemms,
    )


def _tp_comm(op: Op, t: Any, sp: Any) -> Op:
    """Megatron TP: an all-reduce after each block half; with sequence parallelism
    an all-gather before and a reduce-scatter after instead (Korthikanti et al. 2022, §4.2.2).
    """
    if op.kind != "comm":
        return op
    on = _truthy(sp)
    if op.collective == "all_gather":
        return Op(op.name, "comm", 0.0, op.bytes * (t > 1) * on, "all_gather")
    if sp is True:
        return Op(op.name, "comm", 0.0, op.bytes * (t > 1), "reduce_scatter")
    # Over arrays of plans: a reduce-scatter moves half an all-reduce's bytes.
    return Op(op.name, "comm", 0.0, op.bytes * (t > 1) * (1 - 0.5 * on), "all_reduce")


def _truthy(x: Any) -> Any:
    """1.0/0.0 for a bool, the array itself (of 0/1) otherwise."""
    return 1.0 if x is True else (0.0 if x is False else x)


def head_ops(
    spec: ModelSpec,
    b: Any,
    t: Any = 1,
    elem: int = 2,
    residual_elem: int | None = None,
    cp: Any = 1,
) -> list[Op]:
    """Ops outside the blocks: final norm, output projection (vocab-parallel) and loss,
    over the rank's s/cp tokens."""
    tokens = b * spec.seq_len / cp
    v_local = spec.vocab / t
    return [
        _vector("final_norm", tokens * spec.hidden, residual_elem or elem, vclass="norm"),
        _matmul("output_proj", tokens, v_local, spec.hidden, elem),
        _vector("cross_entropy", tokens * v_local, 4, passes=3.0, vclass="softmax"),
    ]


def _cast(name: str, elements: Any, elem: int, count: Any = 1.0) -> Op:
    """A conversion between fp32 and the `elem`-byte dtype: reads one, writes the other."""
    return Op(
        name,
        "vector",
        0.0,
        elements * (4 + elem),
        elements=elements,
        vclass="cast",
        elem=elem,
        count=count,
    )


def cast_ops(
    spec: ModelSpec, b: Any, t: Any = 1, sp: Any = False, elem: int = 2
) -> tuple[list[Op], list[Op]]:
    """The conversions torch.autocast adds to one forward, (per block, head).

    Autocast runs a linear layer in the low-precision dtype by casting its fp32
    inputs: the weights and biases (cached for the rest of the forward, so once per
    micro-batch) and activations that arrive in fp32, the norm outputs in front of
    the QKV and MLP-up projections and of the output layer. The loss runs in fp32,
    so the logits are cast up. Backward casts each gradient back once: one
    conjugate conversion per forward one. Each weight tensor is its own kernel.
    """
    s, h, f = spec.seq_len, spec.hidden, spec.ffn
    tokens = b * s
    sp_div = 1 + (t - 1) * _truthy(sp)
    q_w, kv_w = spec.heads * spec.d_head, spec.n_kv * spec.d_head
    mats = 3 if spec.mlp == "swiglu" else 2
    weights = (h * (q_w + 2 * kv_w) + q_w * h + spec.experts * mats * h * f) / t
    tensors = 2 + spec.experts * mats  # fused QKV, output projection, MLP matrices
    if spec.linear_bias:
        weights += (q_w + 2 * kv_w + spec.experts * (mats - 1) * f) / t + h + spec.experts * h
        tensors += 2 + spec.experts * mats
    elif spec.qkv_bias:
        weights += (q_w + 2 * kv_w) / t
        tensors += 1
    if spec.is_moe:
        weights += h * spec.experts
        tensors += 1
    block = [
        _cast("cast_weights", weights, elem, count=tensors),
        _cast("cast_qkv_input", tokens * h / sp_div, elem),
        _cast("cast_mlp_input", tokens * h / sp_div, elem),
    ]
    head = [
        _cast("cast_output_weight", spec.vocab * h / t, elem),
        _cast("cast_output_input", tokens * h, elem),
        _cast("cast_logits", tokens * spec.vocab / t, elem),
    ]
    return block, head


def matmul_flops(ops: list[Op]) -> Any:
    return sum(op.flops for op in ops if op.kind == "matrix")


def step_tensors(
    spec: ModelSpec,
    b: Any,
    t: Any = 1,
    sp: Any = False,
    elem: int = 2,
    autocast: bool = False,
) -> tuple[list[tuple[Any, float]], list[tuple[Any, float]], list[tuple[Any, float]]]:
    """(bytes, how many) of the tensors a training step allocates, per device:
    per block and micro-batch, for the output layer and loss per micro-batch, and the
    weight gradients once per step (gradients set to None each step). Each forward
    output comes with its gradient in backward (how many = 2). Under autocast the
    residual stream and norms are fp32 and the casts are tensors too. For the time
    a fresh mapping of large tensors costs (time.first_touch_time)."""
    s, h, f = spec.seq_len, spec.hidden, spec.ffn
    tokens = b * s
    sp_div = 1 + (t - 1) * _truthy(sp)
    r = 4 if autocast else elem
    q_w, kv_w = spec.heads * spec.d_head, spec.n_kv * spec.d_head
    up = 2 if spec.mlp == "swiglu" else 1
    routed = tokens * spec.top_k
    stream = tokens * h / sp_div
    block = [
        (r * stream, 8.0),  # two norm outputs, two residual sums, with their gradients
        (elem * tokens * (q_w + 2 * kv_w) / t, 2.0),
        (elem * tokens * q_w / t, 2.0),  # attention output
        (elem * tokens * h, 4.0),  # the two output projections (before reduction)
        (elem * routed * f * up / t, 2.0),
        (elem * routed * f / t, 2.0),  # activation (SwiGLU: the product)
    ]
    if autocast:
        block.append((elem * stream, 4.0))  # the casts of the two norm outputs
    v_local = spec.vocab / t
    head = [
        (r * tokens * h, 2.0),  # final norm output
        (elem * tokens * v_local, 2.0),  # logits and their gradient
        (4.0 * tokens * v_local, 2.0),  # log-softmax output and its incoming gradient
    ]
    if autocast:
        head += [(elem * tokens * h, 2.0), (4.0 * tokens * v_local, 2.0)]  # fp32 logits
    mats = 3 if spec.mlp == "swiglu" else 2
    g = 4 if autocast else elem
    weights = [
        (g * h * (q_w + 2 * kv_w) / t, float(spec.layers)),
        (g * q_w * h / t, float(spec.layers)),
        (g * h * f / t, float(spec.layers * spec.experts * mats)),
        (g * spec.vocab * h / t, 1.0 if spec.tied_embeddings else 2.0),
    ]
    return block, head, weights
