"""The three validated inputs of the analytic model: ModelSpec, TrainingSpec, ParallelPlan."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Precision = Literal["fp32", "fp16", "bf16", "fp8", "fp4"]
Optimizer = Literal["adamw", "sgd", "adafactor", "adam8bit"]
Recompute = Literal["none", "selective", "full"]
Convention = Literal["advisor", "deepspeed", "megatron", "amp", "pure"]
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16", "fp8", "fp4")
OPTIMIZERS: tuple[str, ...] = ("adamw", "sgd", "adafactor", "adam8bit")
RECOMPUTES: tuple[str, ...] = ("none", "selective", "full")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Frozen):
    """Shape of a decoder-only transformer. Parameter count is computed from it."""

    name: str = Field(default="custom", description="Preset name or 'custom'.")
    layers: int = Field(ge=1, le=1024, description="Transformer blocks.")
    hidden: int = Field(ge=1, le=1_000_000, description="Model width d.")
    heads: int = Field(ge=1, le=4096, description="Query heads.")
    kv_heads: int | None = Field(default=None, ge=1, description="Key/value heads (GQA/MQA).")
    head_dim: int | None = Field(default=None, ge=1, description="Per-head width; hidden/heads.")
    ffn_hidden: int | None = Field(default=None, ge=1, description="MLP width; default 4·hidden.")
    mlp: Literal["gelu", "swiglu"] = Field(
        default="gelu", description="gelu: 2 matrices, swiglu: 3."
    )
    vocab: int = Field(ge=1, le=10_000_000, description="Vocabulary (padded) size.")
    seq_len: int = Field(default=2048, ge=1, le=10_000_000, description="Training context length.")
    tied_embeddings: bool = Field(default=False, description="Output layer shares the embedding.")
    position: Literal["learned", "rope", "alibi", "none"] = Field(
        default="rope", description="learned adds max_positions x hidden parameters."
    )
    max_positions: int | None = Field(
        default=None, ge=1, description="Rows of a learned position table; default seq_len."
    )
    norm: Literal["layernorm", "rmsnorm", "layernorm-nobias"] = Field(
        default="rmsnorm", description="layernorm has a weight and a bias; rmsnorm a weight."
    )
    linear_bias: bool = Field(default=False, description="Biases on every linear layer (GPT-2/3).")
    qkv_bias: bool = Field(default=False, description="Biases on Q, K, V only (Qwen2).")
    dropout: bool = Field(
        default=False, description="Dropout masks are stored (Korthikanti's accounting)."
    )
    experts: int = Field(default=1, ge=1, le=4096, description="MoE experts per layer (1 = dense).")
    top_k: int = Field(default=1, ge=1, description="Experts each token is routed to.")
    # Mixture of experts beyond experts/top_k (advisor/model/moe.py). For a MoE model
    # `ffn_hidden` is one routed expert's width.
    shared_experts: int = Field(
        default=0, ge=0, description="Experts every token visits, each ffn_hidden wide (DeepSeek)."
    )
    dense_layers: int = Field(
        default=0, ge=0, description="Dense blocks before the first MoE block (first_k_dense)."
    )
    dense_ffn_hidden: int | None = Field(
        default=None, ge=1, description="MLP width of those dense blocks; default 4·hidden."
    )
    # Multi-head latent attention (DeepSeek-V2/V3; advisor/model/attention.py): on when
    # kv_lora_rank is set. head_dim is then qk_nope_head_dim + qk_rope_head_dim.
    q_lora_rank: int | None = Field(default=None, ge=1, description="MLA query down-rank.")
    kv_lora_rank: int | None = Field(default=None, ge=1, description="MLA key/value down-rank.")
    qk_rope_head_dim: int | None = Field(default=None, ge=1, description="MLA rope part of q/k.")
    v_head_dim: int | None = Field(default=None, ge=1, description="Value head width (MLA).")
    sliding_window: int | None = Field(
        default=None, ge=1, description="Tokens a sliding-window layer attends to."
    )
    sliding_layers: int = Field(
        default=0, ge=0, description="Layers that use the sliding window (the rest attend fully)."
    )
    attention_sinks: bool = Field(default=False, description="A learned sink per head (gpt-oss).")
    qk_norm: bool = Field(
        default=False, description="RMSNorm over each query and key head (Qwen3, OLMo 2)."
    )
    mtp_layers: int = Field(
        default=0, ge=0, description="Multi-token prediction modules (DeepSeek-V3: 1)."
    )
    source: str | None = Field(default=None, description="Where the shape comes from.")
    notes: tuple[str, ...] = Field(
        default=(), description="How the shape and context were chosen (said in assumptions)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        kv = self.kv_heads or self.heads
        if self.heads % kv:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({kv})")
        if self.head_dim is None and self.hidden % self.heads:
            raise ValueError(
                f"hidden ({self.hidden}) is not divisible by heads ({self.heads}); give head_dim"
            )
        if self.top_k > self.experts:
            raise ValueError(
                f"num_experts_per_tok/top_k ({self.top_k}) exceeds the experts ({self.experts})"
            )
        if self.dense_layers > self.layers or self.sliding_layers > self.layers:
            raise ValueError("dense_layers and sliding_layers cannot exceed layers")
        if not self.is_moe and (self.shared_experts or self.dense_layers):
            raise ValueError("shared_experts and dense_layers need experts > 1")
        mla = (self.q_lora_rank, self.qk_rope_head_dim, self.v_head_dim)
        if self.kv_lora_rank is None and any(x is not None for x in mla[:2]):
            raise ValueError("q_lora_rank and qk_rope_head_dim are MLA fields: give kv_lora_rank")
        if self.kv_lora_rank is not None:
            if self.head_dim is None or self.qk_rope_head_dim is None:
                raise ValueError("MLA needs head_dim (nope + rope) and qk_rope_head_dim")
            if self.qk_rope_head_dim >= self.head_dim:
                raise ValueError("MLA qk_rope_head_dim must be less than head_dim")
            if self.n_kv != self.heads:
                raise ValueError("MLA has one key/value head per query head")
        if self.sliding_layers and self.sliding_window is None:
            raise ValueError("sliding_layers needs sliding_window")
        return self

    @property
    def n_kv(self) -> int:
        return self.kv_heads or self.heads

    @property
    def d_head(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def ffn(self) -> int:
        return self.ffn_hidden or 4 * self.hidden

    @property
    def is_moe(self) -> bool:
        return self.experts > 1

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def moe_layers(self) -> int:
        """Blocks with routed experts (all of them for a MoE model but dense_layers)."""
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def experts_per_token(self) -> int:
        """Expert MLPs one token runs through in a MoE block: routed top_k plus shared."""
        return self.top_k + self.shared_experts

    @property
    def d_v(self) -> int:
        """Value (and attention-output) head width: v_head_dim, else d_head."""
        return self.v_head_dim or self.d_head


class TrainingSpec(_Frozen):
    """What is trained and how: tokens, batch, numerics, optimizer, recomputation."""

    tokens: float | None = Field(
        default=None, gt=0, description="Tokens to train on; default 20 x params (Chinchilla)."
    )
    global_batch_tokens: float | None = Field(
        default=None, gt=0, description="Tokens per optimizer step; default chosen by search."
    )
    precision: Precision = Field(
        default="bf16", description="Matmul dtype; fp16/bf16/fp8/fp4 keep fp32 master weights."
    )
    optimizer: Optimizer = "adamw"
    recompute: Recompute = Field(default="none", description="Activation recomputation.")
    convention: Convention = Field(
        default="advisor",
        description="Model-state bookkeeping: advisor (FSDP-like), deepspeed, megatron, "
        "amp (torch.autocast: fp32 weights, gradients and residual stream, no master copy), "
        "or pure (every state in the training dtype, no master copy: litgpt bf16-true).",
    )
    moe_imbalance: float = Field(
        default=1.0,
        ge=1.0,
        description="Busiest expert's tokens over the mean (MoE; 1 = balanced; model/moe.py).",
    )
    capacity_factor: float | None = Field(
        default=None,
        gt=0,
        description="MoE expert capacity over the mean; tokens beyond it are dropped. "
        "None = dropless (Megatron-Core's default, DeepSeek-V3).",
    )


class ParallelPlan(_Frozen):
    """How one job is laid out over devices."""

    dp: int = Field(default=1, ge=1, description="Data-parallel replicas.")
    tp: int = Field(default=1, ge=1, description="Tensor-parallel degree (inside a node).")
    pp: int = Field(default=1, ge=1, description="Pipeline stages.")
    cp: int = Field(default=1, ge=1, description="Context-parallel ranks per sequence.")
    ep: int = Field(
        default=1, ge=1, description="Expert-parallel ranks (carved out of tp x dp x cp; MoE)."
    )
    vpp: int = Field(default=1, ge=1, description="Virtual stages per device (interleaved 1F1B).")
    sp: bool = Field(default=False, description="Sequence parallelism (needs tp > 1 to matter).")
    zero: int = Field(default=0, ge=0, le=3, description="ZeRO stage (3 = FSDP full shard).")
    micro_batch: int = Field(default=1, ge=1, description="Sequences per micro-batch.")
    grad_accum: int = Field(default=1, ge=1, description="Micro-batches per step per replica.")

    @property
    def devices(self) -> int:
        return self.dp * self.tp * self.pp * self.cp
