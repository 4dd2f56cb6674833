"""LoRA's trainable parameters, exact from the ModelSpec shapes.

Each adapted matrix W (d_out x d_in) gains A (r x d_in) and B (d_out x r):
r·(d_in + d_out) parameters (Hu et al. 2021, §4.1, generalised to non-square matrices;
finetune-notes.md checks it against litgpt's printed counts: Llama 2 7B, q+v, r=8:
4,194,304). K and V are n_kv·d_head wide under GQA. MoE: every expert's MLP is adapted.
"""

from __future__ import annotations

from advisor.finetune.spec import FinetuneSpec
from advisor.model.spec import ModelSpec


def target_shapes(spec: ModelSpec) -> dict[str, tuple[int, int, int]]:
    """(d_in, d_out, copies per layer) of each adaptable linear layer. A 2-matrix (GELU)
    MLP has no gate: 'gate' adapts nothing there."""
    h, f = spec.hidden, spec.ffn
    q_w, kv_w = spec.heads * spec.d_head, spec.n_kv * spec.d_head
    e = spec.experts
    shapes = {
        "q": (h, q_w, 1),
        "k": (h, kv_w, 1),
        "v": (h, kv_w, 1),
        "o": (q_w, h, 1),
        "up": (h, f, e),
        "down": (f, h, e),
    }
    if spec.mlp == "swiglu":
        shapes["gate"] = (h, f, e)
    return shapes


def targeted(spec: ModelSpec, ft: FinetuneSpec) -> dict[str, tuple[int, int, int]]:
    """The shapes of the layers `ft` adapts that this model has."""
    return {k: v for k, v in target_shapes(spec).items() if k in ft.lora_targets}


def lora_params_per_layer(spec: ModelSpec, ft: FinetuneSpec) -> int:
    """Adapter parameters of one block: r·(d_in + d_out) per targeted matrix."""
    r = ft.lora_rank
    return sum(r * (d_in + d_out) * n for d_in, d_out, n in targeted(spec, ft).values())


def trainable_params(spec: ModelSpec, ft: FinetuneSpec | None) -> int:
    """Parameters the optimizer updates: the adapters of every layer for LoRA/QLoRA,
    every parameter for full fine-tuning (None)."""
    from advisor.model.params import count_params

    if ft is None or not ft.adapters:
        return count_params(spec).total
    return spec.layers * lora_params_per_layer(spec, ft)


def adapter_widths_per_layer(spec: ModelSpec, ft: FinetuneSpec) -> int:
    """Values per token that the adapters keep for backward in one block: x·A (width r)
    per targeted matrix (its input x is the layer's input, already stored)."""
    return ft.lora_rank * sum(n for _, _, n in targeted(spec, ft).values())


def adafactor_adapter_state_bytes(spec: ModelSpec, ft: FinetuneSpec) -> float:
    """Adafactor's factored fp32 statistics of the adapters of one block (Shazeer & Stern
    2018, §3): 4·(rows + cols) per matrix, A is r x d_in and B d_out x r."""
    r = ft.lora_rank
    shapes = targeted(spec, ft).values()
    return sum(4.0 * ((r + d_in) + (d_out + r)) * n for d_in, d_out, n in shapes)


def quantized_params_per_layer(spec: ModelSpec) -> int:
    """Weights bitsandbytes quantizes in a block: every linear layer's matrix (biases,
    norms, the embedding and the output layer stay 16-bit, as transformers skips lm_head)."""
    from advisor.model.params import count_params

    c = count_params(spec)
    return c.attention_matmul + spec.experts * c.mlp_expert_matmul


def linear_rows_per_layer(spec: ModelSpec) -> int:
    """Output rows of a block's linear layers: LLM.int8() keeps one scale per row."""
    return sum(d_out * n for _, d_out, n in target_shapes(spec).values())


def largest_linear(spec: ModelSpec) -> int:
    """The biggest single linear weight of a block: what one dequantized copy holds."""
    return max(d_in * d_out for d_in, d_out, _ in target_shapes(spec).values())
