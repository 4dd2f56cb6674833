"""Exact parameter counts from a ModelSpec, split the way sharding needs them.

Checked against published counts in tests: Llama-2-7B 6,738,415,616 and
Mistral-7B 7,241,732,096 (their Hugging Face model cards), GPT-2 124,439,808
(Radford et al. 2019 as counted by HF), Pythia-70M 70,426,624 (Biderman et al.
2023, Table 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.model.spec import ModelSpec


@dataclass(frozen=True)
class ParamCounts:
    """Parameters by where they live. Layer figures are per transformer block."""

    attention: int  # Q, K, V, O weights and their biases
    attention_matmul: int  # weights only
    mlp_expert: int  # one expert's MLP (the whole MLP when dense), weights + biases
    mlp_expert_matmul: int
    router: int
    norms: int  # the per-layer norms (two pre-norms unless the shape says otherwise)
    embedding: int  # input token table
    output: int  # output projection (0 when tied)
    position: int  # learned position table
    final_norm: int
    experts: int
    top_k: int
    layers: int
    vocab_hidden: int  # V x h, the output-layer matmul size (tied or not)
    largest_module: int  # largest single weight matrix with its bias (DeepSpeed's "largest layer")

    @property
    def per_layer(self) -> int:
        return self.attention + self.experts * self.mlp_expert + self.router + self.norms

    @property
    def per_layer_active(self) -> int:
        return self.attention + self.top_k * self.mlp_expert + self.router + self.norms

    @property
    def transformer(self) -> int:
        return self.layers * self.per_layer

    @property
    def total(self) -> int:
        return self.transformer + self.embedding + self.output + self.position + self.final_norm

    @property
    def active(self) -> int:
        """Parameters one token touches (MoE routes to top_k experts)."""
        return (
            self.layers * self.per_layer_active
            + self.embedding
            + self.output
            + self.position
            + self.final_norm
        )

    @property
    def layer_matmul_active(self) -> int:
        """Weights one token multiplies inside one block."""
        return self.attention_matmul + self.top_k * self.mlp_expert_matmul + self.router

    @property
    def matmul_active(self) -> int:
        """Weights one token multiplies: every linear layer plus the output projection."""
        return self.layers * self.layer_matmul_active + self.vocab_hidden

    @property
    def largest_layer(self) -> int:
        """Largest single block or embedding, what ZeRO-3 gathers at once."""
        return max(self.per_layer, self.embedding, self.output)


def _norm_params(spec: ModelSpec) -> int:
    return 2 * spec.hidden if spec.norm == "layernorm" else spec.hidden


def count_params(spec: ModelSpec) -> ParamCounts:
    """Every weight, bias and norm parameter of the shape."""
    h, f, dh = spec.hidden, spec.ffn, spec.d_head
    q_width, kv_width = spec.heads * dh, spec.n_kv * dh
    attn_w = h * q_width + 2 * h * kv_width + q_width * h
    attn_b = 0
    if spec.linear_bias:
        attn_b = q_width + 2 * kv_width + h
    elif spec.qkv_bias:
        attn_b = q_width + 2 * kv_width
    mats = 3 if spec.mlp == "swiglu" else 2
    mlp_w = mats * h * f
    mlp_b = ((mats - 1) * f + h) if spec.linear_bias else 0
    # Qwen3/Gemma 3: one head_dim RMSNorm each for q and k; OLMo 2: over every head.
    qk_norm = (q_width + kv_width if spec.qk_norm_full else 2 * dh) if spec.qk_norm else 0
    router = h * spec.experts if spec.is_moe else 0
    vh = spec.vocab * h
    position = (spec.max_positions or spec.seq_len) * h if spec.position == "learned" else 0
    return ParamCounts(
        attention=attn_w + attn_b + qk_norm,
        attention_matmul=attn_w,
        mlp_expert=mlp_w + mlp_b,
        mlp_expert_matmul=mlp_w,
        router=router,
        norms=spec.layer_norms * _norm_params(spec),
        embedding=vh,
        output=0 if spec.tied_embeddings else vh,
        position=position,
        final_norm=_norm_params(spec),
        experts=spec.experts,
        top_k=spec.top_k,
        layers=spec.layers,
        vocab_hidden=vh,
        largest_module=max(
            vh,
            position,
            h * q_width + (q_width if spec.linear_bias or spec.qkv_bias else 0),
            h * f + (f if spec.linear_bias else 0),
        ),
    )


@dataclass(frozen=True)
class ParamTensors:
    """How many parameter tensors there are, the count a per-tensor optimizer loop pays for.

    Attention is counted as one fused QKV matrix and one output projection (nanoGPT,
    Megatron); a separate Q, K and V, as some implementations keep, adds two."""

    per_layer: int
    embedding: int
    position: int
    output: int
    final_norm: int


def param_tensors(spec: ModelSpec) -> ParamTensors:
    mats = 3 if spec.mlp == "swiglu" else 2
    per_layer = 2 + spec.experts * mats
    if spec.linear_bias:
        per_layer += 2 + spec.experts * mats
    elif spec.qkv_bias:
        per_layer += 1
    if spec.is_moe:
        per_layer += 1
    norm = 2 if spec.norm == "layernorm" else 1
    qk_norm = 2 if spec.qk_norm else 0
    return ParamTensors(
        per_layer=per_layer + spec.layer_norms * norm + qk_norm,
        embedding=1,
        position=1 if spec.position == "learned" else 0,
        output=0 if spec.tied_embeddings else 1,
        final_norm=norm,
    )
