"""The explicit list of forward operations of one transformer block, after Calculon.

Each op carries its FLOPs, the bytes it moves through device memory, and its
kind (matrix, vector, communication). All sizes are per device for one
micro-batch of `b` sequences of `s` tokens under tensor-parallel degree `t`.
Arguments may be numpy arrays, so one call describes many plans at once.

Conventions: a matmul of (m x k) by (k x n) is 2·m·n·k FLOPs (Narayanan et al.
2021, §5.1). Attention scores and attention over values are counted over the
full s x s square (`causal_fraction=1`), as PaLM (Chowdhery et al. 2022, App. B)
and Megatron do for model FLOPs; a causal kernel that skips the masked half
runs `causal_fraction=0.5` of that work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from advisor.model.spec import ModelSpec

Kind = Literal["matrix", "vector", "comm"]
Collective = Literal["all_reduce", "all_gather", "reduce_scatter", "none"]


@dataclass(frozen=True)
class Op:
    """One forward operation of a block, per device."""

    name: str
    kind: Kind
    flops: Any  # float or ndarray
    bytes: Any  # memory traffic (matrix/vector) or message size (comm)
    collective: Collective = "none"
    matmul_dims: tuple[Any, Any, Any] | None = None  # (m, n, k) per device


def _matmul(name: str, m: Any, n: Any, k: Any, elem: int) -> Op:
    """2·m·n·k FLOPs; reads A (m·k) and B (k·n), writes C (m·n)."""
    return Op(
        name,
        "matrix",
        2.0 * m * n * k,
        elem * (m * k + k * n + m * n),
        matmul_dims=(m, n, k),
    )


def _vector(name: str, elements: Any, elem: int, passes: float = 2.0) -> Op:
    """Elementwise work: reads and writes `passes` tensors of `elements`."""
    return Op(name, "vector", elements * 4.0, elements * elem * passes)


def block_ops(
    spec: ModelSpec,
    b: Any,
    t: Any = 1,
    sp: Any = False,
    elem: int = 2,
    causal_fraction: float = 1.0,
    fused_attention: bool = False,
) -> list[Op]:
    """Forward ops of one transformer block for b sequences of spec.seq_len tokens.

    `fused_attention` (flash attention) keeps the s x s scores on chip, so the
    softmax moves no s x s bytes through device memory.
    """
    s, h, f = spec.seq_len, spec.hidden, spec.ffn
    tokens = b * s
    q_w = spec.heads * spec.d_head
    kv_w = spec.n_kv * spec.d_head
    heads_local = spec.heads / t
    sp_on = _truthy(sp)
    sp_div = 1 + (t - 1) * sp_on  # t with sequence parallelism, else 1
    act = tokens * h * elem  # one [b, s, h] tensor in bytes
    up_mats = 2 if spec.mlp == "swiglu" else 1
    routed = tokens * spec.top_k  # token-expert pairs
    ops: list[Op] = [
        _vector("norm_attn", tokens * h / sp_div, elem),
    ]
    ops += [
        Op("tp_all_gather_attn", "comm", 0.0, act, "all_gather"),
        _matmul("qkv", tokens, (q_w + 2 * kv_w) / t, h, elem),
        _matmul("attn_scores", b * heads_local * s, s * causal_fraction, spec.d_head, elem),
        _vector(
            "softmax",
            b * heads_local * s * s * causal_fraction * (0 if fused_attention else 1)
            + (b * heads_local * s if fused_attention else 0),
            elem,
        ),
        _matmul("attn_over_v", b * heads_local * s, spec.d_head, s * causal_fraction, elem),
        _matmul("attn_out_proj", tokens, h, q_w / t, elem),
        Op("tp_reduce_attn", "comm", 0.0, act, "all_reduce"),
        _vector("residual_attn", tokens * h / sp_div, elem, passes=3.0),
        _vector("norm_mlp", tokens * h / sp_div, elem),
        Op("tp_all_gather_mlp", "comm", 0.0, act, "all_gather"),
    ]
    if spec.is_moe:
        ops.append(_matmul("router", tokens, spec.experts, h, elem))
    ops += [
        _matmul("mlp_up", routed, up_mats * f / t, h, elem),
        _vector("mlp_activation", routed * f / t * up_mats, elem, passes=1.5),
        _matmul("mlp_down", routed, h, f / t, elem),
        Op("tp_reduce_mlp", "comm", 0.0, act, "all_reduce"),
        _vector("residual_mlp", tokens * h / sp_div, elem, passes=3.0),
    ]
    return [_tp_comm(op, t, sp) for op in ops]


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


def head_ops(spec: ModelSpec, b: Any, t: Any = 1, elem: int = 2) -> list[Op]:
    """Ops outside the blocks: final norm, output projection (vocab-parallel) and loss."""
    tokens = b * spec.seq_len
    v_local = spec.vocab / t
    return [
        _vector("final_norm", tokens * spec.hidden, elem),
        _matmul("output_proj", tokens, v_local, spec.hidden, elem),
        _vector("cross_entropy", tokens * v_local, 4, passes=3.0),
    ]


def matmul_flops(ops: list[Op]) -> Any:
    return sum(op.flops for op in ops if op.kind == "matrix")
