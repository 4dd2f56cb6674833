"""Memory per device when serving: weights, KV cache, activations, runtime overhead,
and the largest batch the rest holds. Functions take numpy arrays for the search."""

from __future__ import annotations

from typing import Any

import numpy as np

from advisor.model.params import ParamCounts
from advisor.model.spec import ModelSpec
from advisor.serve.spec import BYTES


def weight_bytes_per_device(counts: ParamCounts, wbytes: Any, tp: Any, pp: Any) -> Any:
    """Every weight once, split over the tensor- and pipeline-parallel ranks (expert
    parallelism moves experts between the same ranks, so the bytes are the same)."""
    return counts.total * np.asarray(wbytes, dtype=float) / (np.asarray(tp) * np.asarray(pp))


def kv_heads_per_device(spec: ModelSpec, tp: Any) -> Any:
    """KV heads a rank holds: heads split over tp, replicated when tp exceeds them."""
    return np.ceil(spec.n_kv / np.asarray(tp, dtype=float))


def kv_bytes_per_token(spec: ModelSpec, kvbytes: Any, tp: Any = 1, pp: Any = 1) -> Any:
    """2 (K and V) x layers x kv heads x head dim x bytes (Kwon et al. 2023, §3, with GQA)."""
    layers = np.ceil(spec.layers / np.asarray(pp, dtype=float))
    return 2.0 * layers * kv_heads_per_device(spec, tp) * spec.d_head * np.asarray(kvbytes)


def activation_bytes(spec: ModelSpec, tokens: Any, seqs: Any, tp: Any) -> Any:
    """Live tensors of one block for `tokens` in one step (inference keeps none for a
    backward pass): residual and normed input, Q/K/V, the MLP's up (and gate) outputs
    in 16 bits, plus fp32 logits of the `seqs` sequences that sample a token."""
    tp = np.asarray(tp, dtype=float)
    qkv = (spec.heads + 2 * spec.n_kv) * spec.d_head / tp
    mlp = (2 if spec.mlp == "swiglu" else 1) * spec.ffn / tp
    per_token = 2.0 * (2 * spec.hidden + qkv + mlp)
    return np.asarray(tokens) * per_token + 4.0 * np.asarray(seqs) * spec.vocab / tp


def mean_tokens_held(input_len: Any, output_len: Any) -> Any:
    """KV tokens a request holds on average over its life: the prompt plus half the
    output (paged blocks are allocated as tokens are generated; Kwon et al. 2023, §4)."""
    return np.asarray(input_len, dtype=float) + np.asarray(output_len, dtype=float) / 2.0


def kv_budget(device_bytes: Any, weights: Any, activations: Any, overhead: Any, frac: Any) -> Any:
    """The engine's share of what weights, activations and runtime leave."""
    return np.asarray(frac) * (np.asarray(device_bytes) - weights - activations - overhead)


def max_batch(budget: Any, kv_tok: Any, held: Any, cap: float | None) -> Any:
    """Sequences whose KV cache fits at once (0: not even one), at most the engine's cap."""
    b = np.floor(np.maximum(np.asarray(budget, dtype=float), 0.0) / (kv_tok * held))
    return np.minimum(b, cap) if cap else b


def wbytes(precision: str) -> float:
    return BYTES[precision]
