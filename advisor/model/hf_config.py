"""A ModelSpec from a Hugging Face config.json: the one entry point, `from_hf_config`.

Mixture-of-experts and MLA families (Qwen3-MoE, DeepSeek-V3 with its MLA ranks, shared
experts and dense first layers, gpt-oss) are read by advisor/model/hf_moe.py. For the others,
`family` names the config's family (model_type, checked against `architectures`) and
refuses what no reader models, naming the fields that would be ignored: read as Llama, a
config with MLA attention and 256 routed experts would give 38.6B of DeepSeek-V3's 671B
parameters. A family whose reader does not read a shape field it carries (MLA ranks or
shared experts in a Llama file, ...) is refused the same way. `READERS` maps each family
to the function that reads its shape (dense families: advisor/model/hf_dense.py).

The training context is not `max_position_embeddings` (what the model can take:
131,072 for Qwen2-0.5B) but min(that, HF_DEFAULT_SEQ_LEN), said in the notes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from advisor.errors import DataError
from advisor.model import hf_dense
from advisor.model.hf_dense import HF_DEFAULT_SEQ_LEN as HF_DEFAULT_SEQ_LEN  # re-exported
from advisor.model.hf_dense import context as _context
from advisor.model.hf_dense import need as _need
from advisor.model.hf_moe import moe_family, moe_spec
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec

Reader = Callable[[dict[str, Any], Path, str, "int | None"], ModelSpec]

# model_type -> the function that reads its shape. A new family is one line here (and its
# architecture prefix below); families whose fields are family-specific are exempt from
# the matching UNMODELLED entries through FAMILY_READS.
READERS: dict[str, Reader] = {
    "llama": hf_dense.llama_style,
    "mistral": hf_dense.llama_style,
    "qwen2": hf_dense.llama_style,
    "qwen3": hf_dense.llama_style,
    "mixtral": hf_dense.llama_style,
    "phi3": hf_dense.llama_style,
    "olmo2": hf_dense.llama_style,
    "gemma2": hf_dense.gemma,
    "gemma3": hf_dense.gemma,
    "gemma3_text": hf_dense.gemma,
    "gpt2": hf_dense.gpt2,
    "gpt_neox": hf_dense.gpt_neox,
}
# Architecture class prefix -> the model_types it may carry.
ARCH_FAMILY: dict[str, tuple[str, ...]] = {
    "Llama": ("llama",),
    "Mistral": ("mistral",),
    "Qwen2": ("qwen2",),
    "Qwen3": ("qwen3",),
    "Mixtral": ("mixtral",),
    "Phi3": ("phi3",),
    "Olmo2": ("olmo2",),
    "Gemma2": ("gemma2",),
    "Gemma3": ("gemma3", "gemma3_text"),
    "GPT2": ("gpt2",),
    "GPTNeoX": ("gpt_neox",),
}
# Fields in UNMODELLED that a family's reader does read.
FAMILY_READS: dict[str, set[str]] = {
    "gemma2": {"layer_types"},
    "gemma3": {"layer_types", "sliding_window_pattern", "text_config"},
    "gemma3_text": {"layer_types", "sliding_window_pattern"},
}
# Families whose reader reads expert counts (num_local_experts / num_experts).
EXPERT_FAMILIES = {"mixtral"}

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


def _names(keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _active(key: str, value: Any) -> bool:
    """A field set to something other than its 'absent' value."""
    if key == "layer_types":
        return isinstance(value, list) and any(v != "full_attention" for v in value)
    return value not in (None, False, 0, "", [], {})


FAMILIES = tuple(READERS)
_ARCH = re.compile(rf"^({'|'.join(ARCH_FAMILY)})(For\w+|LMHeadModel|Model)$")


def family(cfg: dict[str, Any], path: Path) -> str:
    """The supported family a config belongs to, or a DataError naming what would be ignored."""
    kind = str(cfg.get("model_type") or "").strip().lower()
    archs = cfg.get("architectures") or []
    archs = [str(a) for a in archs] if isinstance(archs, list) else [str(archs)]
    unknown_archs = [a for a in archs if not _ARCH.match(a)]
    arch_kinds = [ARCH_FAMILY[m.group(1)] for a in archs if (m := _ARCH.match(a))]
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
    if kind and any(kind not in kinds for kinds in arch_kinds):
        raise DataError(
            f"{path}: model_type '{kind}' and architectures {', '.join(archs)} disagree"
        )
    kind = kind or arch_kinds[0][0]
    reads = FAMILY_READS.get(kind, set())
    text = cfg.get("text_config") if "text_config" in reads else None
    fields = cfg | text if isinstance(text, dict) else cfg
    unmodelled = [k for k in fields if k in UNMODELLED and k not in reads and _active(k, fields[k])]
    if "layer_types" not in reads and _active("layer_types", fields.get("layer_types")):
        unmodelled.append("layer_types")
    if kind not in EXPERT_FAMILIES:
        unmodelled += [
            k for k in ("num_local_experts", "num_experts") if int(fields.get(k) or 1) > 1
        ]
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


def _name(cfg: dict[str, Any], kind: str, spec: ModelSpec) -> str:
    """The config's own name, else family and computed size (never the folder's name)."""
    from advisor.units import format_size

    for key in ("_name_or_path", "name_or_path"):
        value = cfg.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return f"{kind.replace('_', '-')}-{format_size(count_params(spec).total).lower()}"


def from_hf_config(path: Path, seq_len: int | None = None) -> ModelSpec:
    """Read a Hugging Face config.json of any family in READERS."""
    cfg = read_config(path)
    try:
        if kind := moe_family(cfg):  # Qwen3-MoE, DeepSeek-V3, gpt-oss (hf_moe.py)
            seq, notes = _context(int(_need(cfg, path, "max_position_embeddings")), seq_len)
            spec = moe_spec(cfg, path, kind, seq, notes)
        else:
            kind = family(cfg, path)
            spec = READERS[kind](cfg, path, kind, seq_len)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "shape"
        raise DataError(f"{path}: invalid model shape: {where}: {first['msg']}") from e
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: invalid model shape: {e}") from e
    return spec.model_copy(update={"name": _name(cfg, kind, spec)})
