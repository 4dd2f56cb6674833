"""Context parallelism and uneven pipeline stages: the group sizes and stage sizes the
time and memory models share, and ring attention's communication.

Context parallelism (CP) splits each sequence over `cp` ranks (Liu et al. 2023, Ring
Attention; Megatron-Core context_parallel docs). Every rank keeps s/cp tokens, so its
linear layers, norms and activations are 1/cp of the sequence; its queries attend over
all s keys, the K/V blocks arriving round a ring: cp-1 steps per layer, each a send and
a receive of one chunk, 2·(s/cp)·kv_heads·head_dim·bytes per sequence, overlapped with
the attention over the chunk already held. Causal load balancing (Megatron splits the
sequence into 2·cp chunks and gives rank i chunks i and 2·cp-1-i) makes every rank's
share of the causal work equal, 1/cp. Backward sends K/V again and returns dK/dV: twice
the forward traffic. Weights are replicated across CP ranks and their gradients are
reduced over the data-parallel-with-context group (dp·cp), which the distributed
optimizer and ZeRO also shard over (Megatron's `get_data_parallel_group(with_context_
parallel=True)`).

Uneven pipeline stages: when p does not divide L, stages hold ceil(L/p) or floor(L/p)
layers (Megatron's --decoder-first/last-pipeline-num-layers; Llama 3 405B's 126 layers
on 16 stages, Dubey et al. 2024 §3.3.2). The heaviest stage sets the pipeline's pace and
the loss goes on a lighter one, so a micro-batch takes max(ceil·block, floor·block +
output layer); the first stage, with ceil(L/p) layers and the embedding, holds the most.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.model.spec import ModelSpec


def cp_of(plan: Any) -> Any:
    """The context-parallel degree of a plan or array of plans (1 where absent)."""
    cp = getattr(plan, "cp", None)
    return 1 if cp is None else np.asarray(cp)


def dp_group(plan: Any) -> Any:
    """Ranks that reduce (and, with ZeRO, shard) gradients: data x context parallel."""
    return np.asarray(plan.dp) * cp_of(plan)


def max_stage_layers(layers: int, pp: Any) -> Any:
    """Layers on the heaviest (and first) pipeline stage: ceil(L/p)."""
    return -(-layers // np.asarray(pp))


def min_stage_layers(layers: int, pp: Any) -> Any:
    """Layers on the lightest stage: floor(L/p)."""
    return layers // np.asarray(pp)


def stage_time(layers: int, pp: Any, per_block: Any, head: Any) -> Any:
    """One micro-batch through the slowest stage: the heaviest stage's blocks, or a
    lightest stage's blocks plus the output layer and loss, whichever is longer (for
    p dividing L, L/p blocks + the head, as before)."""
    heavy = max_stage_layers(layers, pp) * per_block
    light = min_stage_layers(layers, pp) * per_block + head
    return np.maximum(heavy, light)


def ring_chunk_bytes(spec: ModelSpec, b: Any, t: Any, cp: Any, elem: int) -> Any:
    """Bytes one ring step sends per rank: K and V of one s/cp chunk for the rank's
    kv heads (a TP rank holds kv_heads/t, at least one), Liu et al. 2023 §3."""
    kv_local = np.maximum(spec.n_kv / np.asarray(t, dtype=float), 1.0)
    return 2.0 * b * (spec.seq_len / np.asarray(cp, dtype=float)) * kv_local * spec.d_head * elem


def ring_attention_time(
    chunk_bytes: Any,
    cp: Any,
    attn_fwd: Any,
    attn_bwd: Any,
    bandwidth: Any,
    latency: Any,
    overlap: bool = True,
) -> Any:
    """Exposed seconds of ring attention's K/V exchange per block (forward + backward):
    cp-1 steps, each one chunk forward and two backward (K/V and dK/dV), overlapped with
    the attention over one chunk (the rank's attention time / cp) where the stack does."""
    cp = np.asarray(cp, dtype=float)
    steps = cp - 1.0
    send = latency + chunk_bytes / np.maximum(bandwidth, 1.0)
    if overlap:
        fwd = np.maximum(send - attn_fwd / cp, 0.0)
        bwd = np.maximum(2.0 * send - attn_bwd / cp, 0.0)
    else:
        fwd, bwd = send, 2.0 * send
    return np.where(cp > 1, steps * (fwd + bwd), 0.0)


def check_cp(spec: ModelSpec, cp: int) -> str | None:
    """Why a context-parallel degree cannot split the sequence, or None."""
    if cp > 1 and spec.seq_len % (2 * cp):
        return (
            f"--cp {cp} does not split the {spec.seq_len}-token sequence: causal load "
            f"balancing needs it in 2 x {cp} = {2 * cp} equal chunks"
        )
    return None
