"""Exact parameter counts from a ModelSpec, split the way sharding needs them.

Checked against published counts in tests: Llama-2-7B 6,738,415,616 and
Mistral-7B 7,241,732,096 (their Hugging Face model cards), GPT-2 124,439,808
(Radford et al. 2019 as counted by HF), Pythia-70M 70,426,624 (Biderman et al.
2023, Table 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.model.attention import attention_weights
from advisor.model.spec import ModelSpec


@dataclass(frozen=True)
class ParamCounts:
    """Parameters by where they live. Layer figures are per transformer block; `per_layer`
    is a MoE block (the heaviest) when the model has experts, and the first `dense_layers`
    blocks hold `dense_mlp` instead of the experts, shared experts and router."""

    attention: int  # Q, K, V, O weights and their biases (MLA: its projections and norms)
    attention_matmul: int  # weights only
    mlp_expert: int  # one expert's MLP (the whole MLP when dense), weights + biases
    mlp_expert_matmul: int
    router: int
    norms: int  # the two per-layer norms
    embedding: int  # input token table
    output: int  # output projection (0 when tied)
    position: int  # learned position table
    final_norm: int
    experts: int
    top_k: int
    layers: int
    vocab_hidden: int  # V x h, the output-layer matmul size (tied or not)
    largest_module: int  # largest single weight matrix with its bias (DeepSpeed's "largest layer")
    shared_experts: int = 0  # experts every token visits (replicated like a dense MLP)
    dense_layers: int = 0  # dense blocks before the first MoE block
    dense_mlp: int = 0  # the MLP of one of those (weights + biases)
    dense_mlp_matmul: int = 0
    mtp: int = 0  # multi-token prediction modules, not in `total` (DeepSeek-V3 §2.2)
    mtp_matmul: int = 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers

    @property
    def per_layer(self) -> int:
        mlps = self.experts + self.shared_experts
        return self.attention + mlps * self.mlp_expert + self.router + self.norms

    @property
    def dense_layer(self) -> int:
        return self.attention + self.dense_mlp + self.norms

    @property
    def per_layer_active(self) -> int:
        mlps = self.top_k + self.shared_experts
        return self.attention + mlps * self.mlp_expert + self.router + self.norms

    @property
    def routed_per_layer(self) -> int:
        """Routed experts of one MoE block: what expert parallelism shards (0 when dense)."""
        return self.experts * self.mlp_expert if self.experts > 1 else 0

    @property
    def transformer(self) -> int:
        return self.moe_layers * self.per_layer + self.dense_layers * self.dense_layer

    @property
    def total(self) -> int:
        return self.transformer + self.embedding + self.output + self.position + self.final_norm

    @property
    def active(self) -> int:
        """Parameters one token touches (MoE routes to top_k experts, plus shared ones)."""
        return (
            self.moe_layers * self.per_layer_active
            + self.dense_layers * self.dense_layer
            + self.embedding
            + self.output
            + self.position
            + self.final_norm
        )

    @property
    def layer_matmul_active(self) -> int:
        """Weights one token multiplies inside one MoE (or dense-model) block."""
        mlps = self.top_k + self.shared_experts
        return self.attention_matmul + mlps * self.mlp_expert_matmul + self.router

    @property
    def blocks_matmul_active(self) -> int:
        """Weights one token multiplies in all blocks, dense ones at their own width."""
        dense = self.attention_matmul + self.dense_mlp_matmul
        return self.moe_layers * self.layer_matmul_active + self.dense_layers * dense

    @property
    def matmul_active(self) -> int:
        """Weights one token multiplies: every linear layer plus the output projection."""
        return self.blocks_matmul_active + self.vocab_hidden

    @property
    def largest_layer(self) -> int:
        """Largest single block or embedding, what ZeRO-3 gathers at once."""
        return max(self.per_layer, self.embedding, self.output)


def _norm_params(spec: ModelSpec) -> int:
    return 2 * spec.hidden if spec.norm == "layernorm" else spec.hidden


def _mlp(spec: ModelSpec, f: int) -> tuple[int, int]:
    """(weights + biases, weights) of one MLP of width f."""
    mats = 3 if spec.mlp == "swiglu" else 2
    w = mats * spec.hidden * f
    return w + (((mats - 1) * f + spec.hidden) if spec.linear_bias else 0), w


def count_params(spec: ModelSpec) -> ParamCounts:
    """Every weight, bias and norm parameter of the shape."""
    h, f = spec.hidden, spec.ffn
    a = attention_weights(spec)
    attn_w = a.matmul
    attn_b = 0
    if spec.linear_bias:
        attn_b = a.q_width + a.kv_width + h
    elif spec.qkv_bias:
        attn_b = a.q_width + a.kv_width
    mlp, mlp_w = _mlp(spec, f)
    router = h * spec.experts + (spec.experts if spec.linear_bias else 0) if spec.is_moe else 0
    dense, dense_w = _mlp(spec, spec.dense_ffn_hidden or 4 * h) if spec.dense_layers else (0, 0)
    vh = spec.vocab * h
    position = (spec.max_positions or spec.seq_len) * h if spec.position == "learned" else 0
    norm = _norm_params(spec)
    block = attn_w + attn_b + a.vectors + (spec.experts + spec.shared_experts) * mlp + router
    # DeepSeek-V3 §2.2: each MTP module adds a 2h -> h projection, two input norms, one
    # block (a MoE block), and HF checkpoints a norm before the shared output head.
    mtp_block = block + 2 * norm + 2 * h * h + 3 * norm
    mtp_mm = (
        attn_w
        + (spec.top_k + spec.shared_experts) * mlp_w
        + (h * spec.experts) * (spec.experts > 1)
    )
    return ParamCounts(
        attention=attn_w + attn_b + a.vectors,
        attention_matmul=attn_w,
        mlp_expert=mlp,
        mlp_expert_matmul=mlp_w,
        router=router,
        norms=2 * norm,
        embedding=vh,
        output=0 if spec.tied_embeddings else vh,
        position=position,
        final_norm=norm,
        experts=spec.experts,
        top_k=spec.top_k,
        layers=spec.layers,
        vocab_hidden=vh,
        largest_module=max(
            vh,
            position,
            a.largest + (a.q_width if spec.linear_bias or spec.qkv_bias else 0),
            h * f + (f if spec.linear_bias else 0),
            h * (spec.dense_ffn_hidden or 0),
        ),
        shared_experts=spec.shared_experts,
        dense_layers=spec.dense_layers if spec.is_moe else 0,
        dense_mlp=dense,
        dense_mlp_matmul=dense_w,
        mtp=spec.mtp_layers * mtp_block,
        mtp_matmul=spec.mtp_layers * (mtp_mm + 2 * h * h),
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
    return ParamTensors(
        per_layer=per_layer + 2 * norm,
        embedding=1,
        position=1 if spec.position == "learned" else 0,
        output=0 if spec.tied_embeddings else 1,
        final_norm=norm,
    )
