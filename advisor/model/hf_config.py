"""A ModelSpec from a Hugging Face config.json, for the families whose shape advisor models.

Supported: Llama, Mistral, Qwen2, Mixtral (Llama-style: RMSNorm, RoPE, SwiGLU, GQA),
GPT-2 and GPT-NeoX; field names as in huggingface/transformers configuration_*.py.
Anything else is refused, naming the fields that would be ignored: read as Llama, a
DeepSeek-V3 config (MLA attention, 256 routed experts) gives 38.6B of its 671B
parameters. A supported family that carries a field which changes the shape and is
not modelled (MLA ranks, shared experts, ...) is refused the same way.

The training context is not `max_position_embeddings` (what the model can take:
131,072 for Qwen2-0.5B) but min(that, HF_DEFAULT_SEQ_LEN), said in the notes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from advisor.errors import DataError
from advisor.model.hf_moe import moe_family, moe_spec
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec

# Llama 2's pretraining context (Touvron et al. 2023, arXiv 2307.09288, §2.2 and Table 1):
# the training length assumed for a config whose --seq-len is not given.
HF_DEFAULT_SEQ_LEN = 4096

FAMILIES = ("llama", "mistral", "qwen2", "mixtral", "gpt2", "gpt_neox")
_ARCH = re.compile(r"^(Llama|Mistral|Qwen2|Mixtral|GPT2|GPTNeoX)(For\w+|LMHeadModel|Model)$")
_ARCH_FAMILY = {
    "Llama": "llama",
    "Mistral": "mistral",
    "Qwen2": "qwen2",
    "Mixtral": "mixtral",
    "GPT2": "gpt2",
    "GPTNeoX": "gpt_neox",
}

# Fields that change parameter count or FLOPs and that no supported family's reader models
# (transformers configuration_deepseek_v3.py, configuration_qwen3_moe.py, configuration_gemma3.py,
# configuration_llama.py `mlp_bias`). Present with a non-empty value, they are refused.
UNMODELLED = (
    "q_lora_rank",
    "kv_lora_rank",
    "qk_nope_head_dim",
    "qk_rope_head_dim",
    "v_head_dim",
    "n_routed_experts",
    "n_shared_experts",
    "moe_intermediate_size",
    "shared_expert_intermediate_size",
    "first_k_dense_replace",
    "moe_layer_freq",
    "decoder_sparse_step",
    "mlp_only_layers",
    "num_nextn_predict_layers",
    "text_config",
    "sliding_window_pattern",
    "mlp_bias",
    "add_cross_attention",
    "parallel_attn",
    "new_decoder_architecture",
)

# What the Llama-style reader reads; Mixtral also reads the expert counts.
LLAMA_READS = {
    "num_hidden_layers",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "hidden_act",
    "vocab_size",
    "max_position_embeddings",
    "tie_word_embeddings",
    "attention_bias",
}
EXPERT_KEYS = ("num_local_experts", "num_experts", "num_experts_per_tok")

# Fields that do not change the shape (ids, numerics, rope, dropout, router loss, metadata).
METADATA = {
    "architectures",
    "model_type",
    "_name_or_path",
    "name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "use_cache",
    "initializer_range",
    "rms_norm_eps",
    "layer_norm_eps",
    "layer_norm_epsilon",
    "rope_theta",
    "rope_scaling",
    "rope_parameters",
    "attention_dropout",
    "hidden_dropout",
    "pretraining_tp",
    "output_router_logits",
    "router_aux_loss_coef",
    "router_jitter_noise",
    "sliding_window",
    "use_sliding_window",
    "max_window_layers",
    "layer_types",
    "auto_map",
    "quantization_config",
    "tokenizer_class",
}


def _need(cfg: dict[str, Any], path: Path, *keys: str) -> Any:
    for k in keys:
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    raise DataError(f"{path}: missing key '{keys[0]}' (needed to read the model shape)")


def _names(keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _active(key: str, value: Any) -> bool:
    """A field set to something other than its 'absent' value."""
    if key == "layer_types":
        return isinstance(value, list) and any(v != "full_attention" for v in value)
    return value not in (None, False, 0, "", [], {})


def family(cfg: dict[str, Any], path: Path) -> str:
    """The supported family a config belongs to, or a DataError naming what would be ignored."""
    kind = str(cfg.get("model_type") or "").strip().lower()
    archs = cfg.get("architectures") or []
    archs = [str(a) for a in archs] if isinstance(archs, list) else [str(archs)]
    unknown_archs = [a for a in archs if not _ARCH.match(a)]
    arch_kinds = {_ARCH_FAMILY[m.group(1)] for a in archs if (m := _ARCH.match(a))}
    if not kind and not archs:
        raise DataError(
            f"{path}: no model_type or architectures, so its family is unknown; "
            f"supported: {', '.join(FAMILIES)}"
        )
    if (kind and kind not in FAMILIES) or unknown_archs:
        named = f"model_type '{kind}'" if kind else "architecture"
        if archs:
            named += f" ({', '.join(archs)})"
        ignored = [k for k in cfg if k not in LLAMA_READS | METADATA]
        ignored.sort(key=lambda k: k not in UNMODELLED)
        tail = f"; read as Llama it would ignore {_names(ignored)}" if ignored else ""
        raise DataError(
            f"{path}: {named} is not supported{tail}; "
            f"supported: {', '.join(FAMILIES)} (or give --layers --hidden --heads --vocab)"
        )
    if kind and arch_kinds and arch_kinds != {kind}:
        raise DataError(
            f"{path}: model_type '{kind}' and architectures {', '.join(archs)} disagree"
        )
    kind = kind or next(iter(arch_kinds))
    unmodelled = [k for k in cfg if k in UNMODELLED and _active(k, cfg[k])]
    if _active("layer_types", cfg.get("layer_types")):
        unmodelled.append("layer_types")
    if kind != "mixtral":
        unmodelled += [k for k in ("num_local_experts", "num_experts") if int(cfg.get(k) or 1) > 1]
    if unmodelled:
        raise DataError(
            f"{path}: model_type '{kind}' carries {_names(unmodelled)}, which change the "
            "shape and are not modelled; give the shape with --layers --hidden --heads --vocab"
        )
    return kind


def read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise DataError(f"{path}: config file not found") from e
    except IsADirectoryError as e:
        raise DataError(f"{path}: is a folder, expected a config.json file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read: {e}") from e
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from e
    if not isinstance(cfg, dict):
        raise DataError(f"{path}: expected a JSON object at top level")
    return cfg


def _context(positions: int, seq_len: int | None) -> tuple[int, list[str]]:
    """Training context: the user's, else min(max positions, HF_DEFAULT_SEQ_LEN), said."""
    if seq_len:
        return seq_len, []
    seq = min(positions, HF_DEFAULT_SEQ_LEN)
    return seq, [
        f"seq_len {seq}: the lesser of max_position_embeddings ({positions}) and the training "
        f"default {HF_DEFAULT_SEQ_LEN} (Llama 2's pretraining context); give --seq-len for another"
    ]


def _spec(cfg: dict[str, Any], path: Path, kind: str, seq_len: int | None) -> ModelSpec:
    source = f"Hugging Face config {path} ({kind})"
    if kind == "gpt2":
        h = int(_need(cfg, path, "n_embd"))
        positions = int(_need(cfg, path, "n_positions", "n_ctx"))
        seq, notes = _context(positions, seq_len)
        return ModelSpec(
            layers=int(_need(cfg, path, "n_layer")),
            hidden=h,
            heads=int(_need(cfg, path, "n_head")),
            ffn_hidden=int(cfg.get("n_inner") or 4 * h),
            mlp="gelu",
            vocab=int(_need(cfg, path, "vocab_size")),
            seq_len=seq,
            max_positions=positions,
            tied_embeddings=True,
            position="learned",
            norm="layernorm",
            linear_bias=True,
            dropout=float(cfg.get("resid_pdrop", 0.1) or 0) > 0,
            source=source,
            notes=tuple(notes),
        )
    # Read in the order of the old reader so a missing key is named the same way.
    layers = int(_need(cfg, path, "num_hidden_layers"))
    hidden = int(_need(cfg, path, "hidden_size"))
    heads = int(_need(cfg, path, "num_attention_heads"))
    ffn = int(_need(cfg, path, "intermediate_size"))
    vocab = int(_need(cfg, path, "vocab_size"))
    seq, notes = _context(int(_need(cfg, path, "max_position_embeddings")), seq_len)
    if kind == "gpt_neox":
        return ModelSpec(
            layers=layers,
            hidden=hidden,
            heads=heads,
            ffn_hidden=ffn,
            mlp="gelu",
            vocab=vocab,
            seq_len=seq,
            tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            position="rope",
            norm="layernorm",
            linear_bias=True,
            source=source,
            notes=tuple(notes),
        )
    window = cfg.get("sliding_window")
    if window and (kind != "qwen2" or cfg.get("use_sliding_window")) and seq > int(window):
        notes.append(
            f"sliding-window attention ({window}) not modelled: attention counted over {seq}"
        )
    act = str(cfg.get("hidden_act", "silu")).lower()
    experts = int(cfg.get("num_local_experts") or cfg.get("num_experts") or 1)
    return ModelSpec(
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=int(cfg.get("num_key_value_heads") or heads),
        head_dim=int(cfg["head_dim"]) if cfg.get("head_dim") else None,
        ffn_hidden=ffn,
        mlp="swiglu" if act in ("silu", "swish", "swiglu") else "gelu",
        vocab=vocab,
        seq_len=seq,
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        position="rope",
        norm="rmsnorm",
        qkv_bias=kind == "qwen2" or bool(cfg.get("attention_bias", False)),
        experts=experts,
        top_k=int(cfg.get("num_experts_per_tok") or 1) if experts > 1 else 1,
        source=source,
        notes=tuple(notes),
    )


def _name(cfg: dict[str, Any], kind: str, spec: ModelSpec) -> str:
    """The config's own name, else family and computed size (never the folder's name)."""
    from advisor.units import format_size

    for key in ("_name_or_path", "name_or_path"):
        value = cfg.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return f"{kind.replace('_', '-')}-{format_size(count_params(spec).total).lower()}"


def from_hf_config(path: Path, seq_len: int | None = None) -> ModelSpec:
    """Read a Hugging Face config.json (Llama, Mistral, Qwen2, Mixtral, GPT-2, GPT-NeoX)."""
    cfg = read_config(path)
    try:
        if kind := moe_family(cfg):  # Qwen3-MoE, DeepSeek-V3, gpt-oss (hf_moe.py)
            seq, notes = _context(int(_need(cfg, path, "max_position_embeddings")), seq_len)
            spec = moe_spec(cfg, path, kind, seq, notes)
        else:
            kind = family(cfg, path)
            spec = _spec(cfg, path, kind, seq_len)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "shape"
        raise DataError(f"{path}: invalid model shape: {where}: {first['msg']}") from e
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: invalid model shape: {e}") from e
    return spec.model_copy(update={"name": _name(cfg, kind, spec)})
