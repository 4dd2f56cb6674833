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
    layer_norms: int = Field(
        default=2,
        ge=0,
        le=8,
        description="Norm weights per block: 2 pre-norms (Llama), 4 for Gemma 2/3's norms "
        "before and after attention and MLP, 2 post-norms (OLMo 2).",
    )
    qk_norm: Literal["none", "head", "full"] = Field(
        default="none",
        description="RMSNorm on queries and keys: 'head' shares head_dim weights across heads "
        "(Qwen3, Gemma 3), 'full' spans every head (OLMo 2: heads·head_dim + kv_heads·head_dim).",
    )
    sliding_window: int | None = Field(
        default=None, ge=1, description="Tokens a local (sliding-window) layer attends over."
    )
    local_layers: int = Field(
        default=0,
        ge=0,
        description="Blocks with sliding-window attention (Gemma 2: every other; Gemma 3: 5 of "
        "6); they change no parameter count. Attention work is still counted over seq_len.",
    )
    experts: int = Field(default=1, ge=1, le=4096, description="MoE experts per layer (1 = dense).")
    top_k: int = Field(default=1, ge=1, description="Experts each token is routed to.")
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
        if self.local_layers > self.layers:
            raise ValueError(f"local_layers ({self.local_layers}) exceeds layers ({self.layers})")
        if self.local_layers and not self.sliding_window:
            raise ValueError("local_layers needs sliding_window")
        if self.top_k > self.experts:
            raise ValueError(f"top_k ({self.top_k}) exceeds experts ({self.experts})")
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


class ParallelPlan(_Frozen):
    """How one job is laid out over devices."""

    dp: int = Field(default=1, ge=1, description="Data-parallel replicas.")
    tp: int = Field(default=1, ge=1, description="Tensor-parallel degree (inside a node).")
    pp: int = Field(default=1, ge=1, description="Pipeline stages.")
    cp: int = Field(default=1, ge=1, description="Context-parallel ranks per sequence.")
    vpp: int = Field(default=1, ge=1, description="Virtual stages per device (interleaved 1F1B).")
    sp: bool = Field(default=False, description="Sequence parallelism (needs tp > 1 to matter).")
    zero: int = Field(default=0, ge=0, le=3, description="ZeRO stage (3 = FSDP full shard).")
    micro_batch: int = Field(default=1, ge=1, description="Sequences per micro-batch.")
    grad_accum: int = Field(default=1, ge=1, description="Micro-batches per step per replica.")

    @property
    def devices(self) -> int:
        return self.dp * self.tp * self.pp * self.cp
