"""ModelSpecs from the Hugging Face config.json of mixture-of-experts / MLA families:
Qwen3-MoE, DeepSeek-V3 and gpt-oss (advisor/model/hf_config.py dispatches here; Mixtral
is read there, Llama-style).

Field names as in huggingface/transformers (launch-formats.md §7.1): configuration_
qwen3_moe.py (`num_experts`, `num_experts_per_tok`, `moe_intermediate_size`,
`decoder_sparse_step`, `mlp_only_layers`; `intermediate_size` is the dense MLP of the
`mlp_only_layers`; q/k norms), configuration_deepseek_v3.py (`n_routed_experts`,
`n_shared_experts`, `first_k_dense_replace`, MLA `q_lora_rank`, `kv_lora_rank`,
`qk_nope_head_dim`, `qk_rope_head_dim`, `v_head_dim`; hub files add
`num_nextn_predict_layers`), configuration_gpt_oss.py (`num_local_experts`,
`num_experts_per_tok`, `intermediate_size` = expert width, `head_dim`,
`sliding_window` on the layers `layer_types` marks `sliding_attention`, biases on
attention, experts and router, a learned sink per head).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.errors import DataError
from advisor.model.spec import ModelSpec

MOE_FAMILIES = ("qwen3_moe", "deepseek_v3", "gpt_oss")
ARCHITECTURES = {
    "Qwen3MoeForCausalLM": "qwen3_moe",
    "DeepseekV3ForCausalLM": "deepseek_v3",
    "GptOssForCausalLM": "gpt_oss",
}


def moe_family(cfg: dict[str, Any]) -> str | None:
    """The MoE/MLA family this reader handles, else None (hf_config reads it)."""
    kind = str(cfg.get("model_type") or "").strip().lower()
    if kind in MOE_FAMILIES:
        return kind
    archs = cfg.get("architectures") or []
    for a in archs if isinstance(archs, list) else [archs]:
        if str(a) in ARCHITECTURES and not kind:
            return ARCHITECTURES[str(a)]
    return None


def _need(cfg: dict[str, Any], path: Path, *keys: str) -> Any:
    for k in keys:
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    raise DataError(f"{path}: missing key '{keys[0]}' (needed to read the model shape)")


def _int(cfg: dict[str, Any], path: Path, *keys: str) -> int:
    v = _need(cfg, path, *keys)
    if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v):
        raise DataError(f"{path}: '{keys[0]}' must be a whole number, got {v!r}")
    return int(v)


def _common(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    heads = _int(cfg, path, "num_attention_heads")
    return {
        "layers": _int(cfg, path, "num_hidden_layers"),
        "hidden": _int(cfg, path, "hidden_size"),
        "heads": heads,
        "kv_heads": int(cfg.get("num_key_value_heads") or heads),
        "vocab": _int(cfg, path, "vocab_size"),
        "tied_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        "mlp": "swiglu",
        "position": "rope",
        "norm": "rmsnorm",
    }


def _qwen3_moe(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    out = _common(cfg, path)
    layers = out["layers"]
    step = int(cfg.get("decoder_sparse_step") or 1)
    dense_idx = set(cfg.get("mlp_only_layers") or [])
    moe_idx = {i for i in range(layers) if i not in dense_idx and (i + 1) % step == 0}
    dense = layers - len(moe_idx)
    if dense and min(moe_idx, default=layers) < dense:
        raise DataError(
            f"{path}: dense layers between MoE layers (mlp_only_layers / decoder_sparse_step) "
            "are not modelled: advisor places them before the first MoE layer"
        )
    out.update(
        head_dim=int(cfg["head_dim"]) if cfg.get("head_dim") else None,
        qk_norm=True,
        qkv_bias=bool(cfg.get("attention_bias", False)),
        experts=_int(cfg, path, "num_experts"),
        top_k=_int(cfg, path, "num_experts_per_tok"),
        ffn_hidden=_int(cfg, path, "moe_intermediate_size"),
        dense_layers=dense,
        dense_ffn_hidden=int(cfg["intermediate_size"]) if dense else None,
    )
    return out


def _deepseek_v3(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    out = _common(cfg, path)
    freq = cfg.get("moe_layer_freq", 1)
    if freq not in (1, None):
        raise DataError(f"{path}: moe_layer_freq {freq!r} is not modelled (every layer MoE)")
    nope = _int(cfg, path, "qk_nope_head_dim")
    rope = _int(cfg, path, "qk_rope_head_dim")
    out.update(
        kv_heads=out["heads"],  # MLA: one key/value head per query head
        head_dim=nope + rope,
        qk_rope_head_dim=rope,
        v_head_dim=_int(cfg, path, "v_head_dim"),
        q_lora_rank=int(cfg["q_lora_rank"]) if cfg.get("q_lora_rank") else None,
        kv_lora_rank=_int(cfg, path, "kv_lora_rank"),
        experts=_int(cfg, path, "n_routed_experts", "num_local_experts"),
        top_k=_int(cfg, path, "num_experts_per_tok"),
        shared_experts=int(cfg.get("n_shared_experts") or 0),
        ffn_hidden=_int(cfg, path, "moe_intermediate_size"),
        dense_layers=int(cfg.get("first_k_dense_replace") or 0),
        dense_ffn_hidden=_int(cfg, path, "intermediate_size"),
        mtp_layers=int(cfg.get("num_nextn_predict_layers") or 0),
    )
    return out


def _gpt_oss(cfg: dict[str, Any], path: Path) -> dict[str, Any]:
    out = _common(cfg, path)
    types = cfg.get("layer_types") or []
    sliding = sum(1 for t in types if t == "sliding_attention")
    window = cfg.get("sliding_window")
    out.update(
        head_dim=int(cfg["head_dim"]) if cfg.get("head_dim") else None,
        experts=_int(cfg, path, "num_local_experts", "num_experts"),
        top_k=_int(cfg, path, "num_experts_per_tok", "experts_per_token"),
        ffn_hidden=_int(cfg, path, "intermediate_size"),
        linear_bias=bool(cfg.get("attention_bias", True)),
        attention_sinks=True,
        sliding_window=int(window) if window and sliding else None,
        sliding_layers=sliding if window else 0,
    )
    return out


READERS = {"qwen3_moe": _qwen3_moe, "deepseek_v3": _deepseek_v3, "gpt_oss": _gpt_oss}


def moe_spec(
    cfg: dict[str, Any], path: Path, kind: str, seq_len: int, notes: list[str]
) -> ModelSpec:
    """The shape of a Qwen3-MoE, DeepSeek-V3 or gpt-oss config (ValueError/ValidationError
    on an inconsistent one, which hf_config reports with the path)."""
    fields = READERS[kind](cfg, path)
    return ModelSpec(
        **fields,
        seq_len=seq_len,
        source=f"Hugging Face config {path} ({kind})",
        notes=tuple(notes),
    )
