"""Dense Hugging Face config.json readers, one per family, each returning a ModelSpec.

Field names and per-family differences as in huggingface/transformers configuration_*.py
(field notes: launch-formats.md §7.1):
- Llama 3.x, Mistral, Qwen2/2.5: RMSNorm, RoPE, gated MLP, GQA; Qwen2 adds Q/K/V biases.
- Qwen3 (dense): RMSNorm on queries and keys per head (q_norm/k_norm of head_dim weights).
- Phi-3/Phi-4: Llama-shaped; the fused qkv_proj/gate_up_proj hold the same weights.
- OLMo 2: norms after attention and after the MLP (no pre-norms), q/k norms over every head.
- Gemma 2 and 3: four norms per block, gated GELU MLP (3 matrices), tied embeddings by
  default, head_dim independent of hidden/heads, sliding-window layers; Gemma 3 adds
  per-head q/k norms and nests the text model under `text_config` in multimodal files.
- GPT-2 and GPT-NeoX: LayerNorm with biases, GELU MLP.

A file may leave fields to transformers' class defaults. advisor ships only the defaults the
shared reference states (advisor/data/hf_defaults.yaml: Gemma 3's sliding_window_pattern, Gemma
2's sliding_window and tied embeddings), applies them and says so in the notes; any other field
the reader needs and the file leaves out is an error naming it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from advisor.errors import DataError
from advisor.model.spec import ModelSpec

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "data" / "hf_defaults.yaml"

# Llama 2's pretraining context (Touvron et al. 2023, arXiv 2307.09288, §2.2 and Table 1):
# the training length assumed for a config whose --seq-len is not given.
HF_DEFAULT_SEQ_LEN = 4096

GATED_ACTS = ("silu", "swish", "swiglu")


@functools.lru_cache(maxsize=1)
def class_defaults() -> dict[str, dict[str, Any]]:
    """Per model_type: the transformers class defaults for fields a config.json may omit."""
    data = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
    return {k: dict(v["values"]) for k, v in data["families"].items()}


def need(cfg: dict[str, Any], path: Path, *keys: str, within: str = "") -> Any:
    """The first of `keys` the config gives; `within` names a nested object ('text_config.')."""
    for k in keys:
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    raise DataError(
        f"{path}: missing key '{within}{keys[0]}' (needed to read the model shape; "
        "transformers' class default for it is not shipped with advisor: add it to the file)"
    )


def context(positions: int, seq_len: int | None) -> tuple[int, list[str]]:
    """Training context: the user's, else min(max positions, HF_DEFAULT_SEQ_LEN), said."""
    if seq_len:
        return seq_len, []
    seq = min(positions, HF_DEFAULT_SEQ_LEN)
    return seq, [
        f"seq_len {seq}: the lesser of max_position_embeddings ({positions}) and the training "
        f"default {HF_DEFAULT_SEQ_LEN} (Llama 2's pretraining context); give --seq-len for another"
    ]


def gpt2(cfg: dict[str, Any], path: Path, kind: str, seq_len: int | None) -> ModelSpec:
    h = int(need(cfg, path, "n_embd"))
    positions = int(need(cfg, path, "n_positions", "n_ctx"))
    seq, notes = context(positions, seq_len)
    return ModelSpec(
        layers=int(need(cfg, path, "n_layer")),
        hidden=h,
        heads=int(need(cfg, path, "n_head")),
        ffn_hidden=int(cfg.get("n_inner") or 4 * h),
        mlp="gelu",
        vocab=int(need(cfg, path, "vocab_size")),
        seq_len=seq,
        max_positions=positions,
        tied_embeddings=True,
        position="learned",
        norm="layernorm",
        linear_bias=True,
        dropout=float(cfg.get("resid_pdrop", 0.1) or 0) > 0,
        source=f"Hugging Face config {path} ({kind})",
        notes=tuple(notes),
    )


def _core(cfg: dict[str, Any], path: Path, within: str = "") -> dict[str, int]:
    # Read in the order of the old reader so a missing key is named the same way.
    keys = {
        "layers": "num_hidden_layers",
        "hidden": "hidden_size",
        "heads": "num_attention_heads",
        "ffn_hidden": "intermediate_size",
        "vocab": "vocab_size",
    }
    return {f: int(need(cfg, path, k, within=within)) for f, k in keys.items()}


def gpt_neox(cfg: dict[str, Any], path: Path, kind: str, seq_len: int | None) -> ModelSpec:
    core = _core(cfg, path)
    seq, notes = context(int(need(cfg, path, "max_position_embeddings")), seq_len)
    return ModelSpec(
        **core,
        mlp="gelu",
        seq_len=seq,
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        position="rope",
        norm="layernorm",
        linear_bias=True,
        source=f"Hugging Face config {path} ({kind})",
        notes=tuple(notes),
    )


def llama_style(cfg: dict[str, Any], path: Path, kind: str, seq_len: int | None) -> ModelSpec:
    """Llama, Mistral, Qwen2/2.5, Qwen3 dense, Phi-3/4, OLMo 2 (and Mixtral's expert counts)."""
    core = _core(cfg, path)
    seq, notes = context(int(need(cfg, path, "max_position_embeddings")), seq_len)
    window = cfg.get("sliding_window")
    uses_window = kind not in ("qwen2", "qwen3") or cfg.get("use_sliding_window")
    if window and uses_window and seq > int(window):
        notes.append(
            f"sliding-window attention ({window}) not modelled: attention counted over {seq}"
        )
    act = str(cfg.get("hidden_act", "silu")).lower()
    experts = int(cfg.get("num_local_experts") or cfg.get("num_experts") or 1)
    heads = core["heads"]
    return ModelSpec(
        **core,
        kv_heads=int(cfg.get("num_key_value_heads") or heads),
        head_dim=int(cfg["head_dim"]) if cfg.get("head_dim") else None,
        mlp="swiglu" if act in GATED_ACTS else "gelu",
        seq_len=seq,
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        position="rope",
        norm="rmsnorm",
        qkv_bias=kind == "qwen2" or bool(cfg.get("attention_bias", False)),
        # Qwen3Attention: q_norm/k_norm = RMSNorm(head_dim); Olmo2Attention: RMSNorm over
        # heads·head_dim and kv_heads·head_dim, and only post-attention / post-MLP norms.
        qk_norm=kind in ("qwen3", "olmo2"),
        qk_norm_full=kind == "olmo2",
        experts=experts,
        top_k=int(cfg.get("num_experts_per_tok") or 1) if experts > 1 else 1,
        source=f"Hugging Face config {path} ({kind})",
        notes=tuple(notes),
    )


def sliding_layers(cfg: dict[str, Any], layers: int, kind: str) -> int:
    """Sliding-window blocks: `layer_types` where given, else the family's pattern
    (Gemma2DecoderLayer: even layers slide; Gemma 3: every `sliding_window_pattern`-th
    layer is global, the rest slide)."""
    types = cfg.get("layer_types")
    if isinstance(types, list) and types:
        return sum(1 for t in types if t == "sliding_attention")
    if kind == "gemma2":
        return (layers + 1) // 2
    pattern = int(cfg.get("sliding_window_pattern") or 0)
    return layers - layers // pattern if pattern > 0 else 0


def text_config(cfg: dict[str, Any], kind: str) -> tuple[dict[str, Any], list[str]]:
    """The text model's fields (descending into `text_config`), with class defaults for
    the fields a file leaves out, and notes saying which defaults were used."""
    notes: list[str] = []
    inner = cfg.get("text_config")
    text = dict(inner) if isinstance(inner, dict) else dict(cfg)
    if isinstance(inner, dict):
        notes.append("text decoder only: the vision tower and projector are not counted")
    defaults = class_defaults().get(kind, {})
    used = {k: v for k, v in defaults.items() if text.get(k) is None}
    if used:
        text.update(used)
        shown = ", ".join(f"{k} {v}" for k, v in used.items())
        notes.append(f"not in the file, so transformers' {kind} defaults: {shown}")
    return text, notes


def gemma(cfg: dict[str, Any], path: Path, kind: str, seq_len: int | None) -> ModelSpec:
    """Gemma 2, Gemma 3 (multimodal, nested text_config) and Gemma 3 text-only."""
    family = "gemma2" if kind == "gemma2" else "gemma3"
    text, notes = text_config(cfg, family)
    within = "text_config." if isinstance(cfg.get("text_config"), dict) else ""
    core = _core(text, path, within)
    positions = int(need(text, path, "max_position_embeddings", within=within))
    seq, ctx_notes = context(positions, seq_len)
    # Left out, these take Gemma's class defaults, not the generic rules (kv = heads, head_dim =
    # hidden/heads); only the defaults in hf_defaults.yaml are sourced, so the rest must be given.
    kv_heads = int(need(text, path, "num_key_value_heads", within=within))
    head_dim = int(need(text, path, "head_dim", within=within))
    tied = bool(need(text, path, "tie_word_embeddings", within=within))
    window = int(need(text, path, "sliding_window", within=within))
    local = sliding_layers(text, core["layers"], family) if window else 0
    if local and window and seq > window:
        notes.append(
            f"{local} of {core['layers']} layers use sliding-window attention ({window}); "
            "attention is counted over the whole context on every layer (an upper bound)"
        )
    notes.append("gated GELU MLP (GeGLU): 3 matrices, counted as SwiGLU")
    return ModelSpec(
        **core,
        kv_heads=kv_heads,
        head_dim=head_dim,
        mlp="swiglu",
        seq_len=seq,
        tied_embeddings=tied,
        position="rope",
        norm="rmsnorm",
        qkv_bias=bool(text.get("attention_bias", False)),
        layer_norms=4,
        qk_norm=family == "gemma3",
        sliding_window=window if local else None,
        sliding_layers=local,
        source=f"Hugging Face config {path} ({kind})",
        notes=tuple(ctx_notes + notes),
    )
