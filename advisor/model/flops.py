"""Training FLOPs per token and per step: model FLOPs and hardware FLOPs.

Model FLOPs follow PaLM (Chowdhery et al. 2022, App. B): 6·N + 12·L·s·d per
token, N the weights that multiply activations (every linear layer and the
output projection; for MoE only the top_k experts a token visits), d = heads x
head_dim. Attention is counted over the full s x s square, not the causal half,
as PaLM and Megatron-LM do (Narayanan et al. 2021, eq. 3). For GPT shapes this
is exactly Megatron's 72·B·s·l·h²·(1 + s/6h + V/(12·l·h)) per step.

Hardware FLOPs add what recomputation repeats: full recomputation runs every
block's forward again (2·N_blocks + 4·L·s·d per token; the output layer is not
recomputed, Megatron eq. 3's V/(16·l·h) term), selective recomputation repeats
only the attention-core forward (4·L·s·d per token; Korthikanti et al. 2022, §5).
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.model.attention import window_fraction
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec, Recompute


def attention_flops_per_token(spec: ModelSpec) -> float:
    """Forward QK^T and attention-over-V per token, all layers: 2·s·heads·(d_qk + d_v)
    (= 2 matmuls x 2·s·d when both are head_dim; MLA's values are v_head_dim wide), times
    the share of the square sliding windows keep (advisor/model/attention.py)."""
    per_layer = 2.0 * spec.seq_len * spec.heads * (spec.d_head + spec.d_v)
    return spec.layers * per_layer * window_fraction(spec)


def forward_flops_per_token(spec: ModelSpec) -> float:
    """Forward matmul FLOPs per token: 2·N + attention, and for each multi-token
    prediction module (DeepSeek-V3 §2.2) its block, projection and output head."""
    c = count_params(spec)
    attn = attention_flops_per_token(spec)
    mtp = 2.0 * (c.mtp_matmul + spec.mtp_layers * c.vocab_hidden)
    mtp += attn / spec.layers * spec.mtp_layers
    return 2.0 * c.matmul_active + attn + mtp


def model_flops_per_token(spec: ModelSpec) -> float:
    """Forward + backward (2x forward) = 6·N + 12·L·s·d (PaLM App. B)."""
    return 3.0 * forward_flops_per_token(spec)


def recompute_flops_per_token(spec: ModelSpec, recompute: Recompute) -> float:
    """Extra forward work that recomputation repeats, per token."""
    if recompute == "full":
        blocks = 2.0 * count_params(spec).blocks_matmul_active
        return blocks + attention_flops_per_token(spec)
    if recompute == "selective":
        return attention_flops_per_token(spec)
    return 0.0


def hardware_flops_per_token(spec: ModelSpec, recompute: Recompute) -> float:
    return model_flops_per_token(spec) + recompute_flops_per_token(spec, recompute)


@dataclass(frozen=True)
class FlopsReport:
    """FLOPs of one training configuration."""

    forward_per_token: float
    backward_per_token: float
    recompute_per_token: float
    model_per_token: float
    hardware_per_token: float
    model_per_step: float
    hardware_per_step: float
    total_model: float  # over all training tokens
    attention_convention: str = "full s x s (non-causal), as PaLM and Megatron count"


def flops_report(
    spec: ModelSpec, recompute: Recompute, step_tokens: float, total_tokens: float
) -> FlopsReport:
    fwd = forward_flops_per_token(spec)
    rec = recompute_flops_per_token(spec, recompute)
    model = 3.0 * fwd
    return FlopsReport(
        forward_per_token=fwd,
        backward_per_token=2.0 * fwd,
        recompute_per_token=rec,
        model_per_token=model,
        hardware_per_token=model + rec,
        model_per_step=model * step_tokens,
        hardware_per_step=(model + rec) * step_tokens,
        total_model=model * total_tokens,
    )
