"""Attention variants: the widths and weights of standard (MHA/GQA/MQA) attention and of
multi-head latent attention, and the share of the s x s square sliding windows keep.

Standard attention: Q is heads·head_dim wide, K and V kv_heads·head_dim each, the
output projection reads heads·head_dim.

MLA (DeepSeek-AI 2024, "DeepSeek-V2", §2.1.2 eqs. 9-19; DeepSeek-V3 keeps it): queries
go through a low-rank down-projection h -> q_lora_rank (with an RMSNorm) and back up
to heads·(nope + rope); keys and values share one down-projection h -> kv_lora_rank
(RMSNorm) plus a decoupled rope key h -> rope shared by all heads, then up to
heads·(nope + v). The scores use nope + rope = head_dim, the context v_head_dim, and
the output projection reads heads·v_head_dim. Training multiplies every projection
(the absorbed form is an inference trick), so the matmul FLOPs are 2 per weight.
What a KV cache keeps per token and layer is kv_lora_rank + rope values.

Sliding windows (Beltagy et al. 2020, Longformer §3.1; Mistral 7B; gpt-oss alternates
128-token windows with full layers; Gemma 3 five local to one global): a query attends
at most `sliding_window` keys, so such a layer does min(w, s)/s of the full square.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.model.spec import ModelSpec


@dataclass(frozen=True)
class AttentionWeights:
    """Per-layer attention parameters: matmul weights, and vectors (MLA's norms, sinks)."""

    matmul: int
    vectors: int
    q_width: int  # columns of the query projection's output (all heads)
    kv_width: int  # columns of the key and value projections' outputs together
    out_in: int  # input width of the output projection
    largest: int  # largest single attention weight matrix


def attention_weights(spec: ModelSpec) -> AttentionWeights:
    """Weights of one block's attention, without biases (params.py adds those)."""
    h, heads, dh = spec.hidden, spec.heads, spec.d_head
    sinks = heads if spec.attention_sinks else 0
    sinks += 2 * dh if spec.qk_norm else 0  # one head_dim norm weight each for q and k
    if not spec.is_mla:
        q_w, kv_w = heads * dh, 2 * spec.n_kv * dh
        return AttentionWeights(
            matmul=h * q_w + h * kv_w + q_w * h,
            vectors=sinks,
            q_width=q_w,
            kv_width=kv_w,
            out_in=q_w,
            largest=h * q_w,
        )
    rope = spec.qk_rope_head_dim or 0
    kv_r = spec.kv_lora_rank or 0
    q_up = heads * dh
    if spec.q_lora_rank:
        q_mats = h * spec.q_lora_rank + spec.q_lora_rank * q_up
        q_norm = spec.q_lora_rank
    else:
        q_mats, q_norm = h * q_up, 0
    kv_up = heads * (dh - rope + spec.d_v)
    kv_mats = h * (kv_r + rope) + kv_r * kv_up
    out = heads * spec.d_v * h
    return AttentionWeights(
        matmul=q_mats + kv_mats + out,
        vectors=q_norm + kv_r + sinks,
        q_width=q_up,
        kv_width=kv_up,
        out_in=heads * spec.d_v,
        largest=max(h * q_up, kv_r * kv_up, out, spec.q_lora_rank or 0),
    )


def projection_flops_width(spec: ModelSpec) -> float:
    """The QKV projection as one h x W matmul of equal FLOPs: W = matmul weights of the
    input-side projections / h (for standard attention q + 2·kv widths)."""
    a = attention_weights(spec)
    return (a.matmul - a.out_in * spec.hidden) / spec.hidden


def window_fraction(spec: ModelSpec, causal: bool = False) -> float:
    """Mean over layers of the attention work kept, relative to the full s x s square
    (causal=False) or to the causal half (causal=True). A window w keeps min(w, s)/s of
    the square; under a causal mask a query sees min(w, position) keys, which over the
    sequence is (w - w²/2s)/(s/2) of the causal half for w <= s."""
    if not spec.sliding_layers or spec.sliding_window is None:
        return 1.0
    s, w = spec.seq_len, min(spec.sliding_window, spec.seq_len)
    kept = (w - w * w / (2.0 * s)) / (s / 2.0) if causal else w / s
    share = spec.sliding_layers / spec.layers
    return 1.0 - share + share * kept


def kv_cache_values_per_token(spec: ModelSpec) -> int:
    """Values a KV cache stores per token and layer: 2·kv_heads·head_dim, or for MLA the
    compressed latent plus the shared rope key (DeepSeek-V2 §2.1.2, Table 1)."""
    if spec.is_mla:
        return (spec.kv_lora_rank or 0) + (spec.qk_rope_head_dim or 0)
    return 2 * spec.n_kv * spec.d_head
