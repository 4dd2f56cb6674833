"""Model shapes from a preset name, a parameter count, or explicit flags.

`--params N` rule: the preset nearest N in parameter count is used when it is
within 10% of N (dense presets only; MoE totals are not what users mean by a
size). Otherwise a Llama-style shape is derived (SwiGLU, RoPE, RMSNorm, 32,000
vocab, untied): width/depth = 128 (GPT-3 175B's 12288/96; Kaplan et al. 2020,
§3.1 find loss flat over a wide range of aspect ratios around it), heads of 128,
SwiGLU width 8h/3 rounded up to a multiple of 256 (Llama's rule), and the width
is the multiple of 128 whose exact parameter count is nearest N.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from advisor.errors import DataError, UsageError, unknown
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec

PRESET_FILE = Path(__file__).resolve().parent.parent / "data" / "model_presets.yaml"
NEAREST_TOLERANCE = 0.10
ASPECT_RATIO = 128
HEAD_DIM = 128


@functools.lru_cache(maxsize=1)
def _preset_table() -> dict[str, tuple[ModelSpec, float]]:
    data = yaml.safe_load(PRESET_FILE.read_text(encoding="utf-8"))
    out: dict[str, tuple[ModelSpec, float]] = {}
    for raw in data["presets"]:
        entry = dict(raw)
        published = float(entry.pop("published_params"))
        out[entry["name"]] = (ModelSpec(**entry), published)
    return out


def preset_names() -> list[str]:
    return list(_preset_table())


def published_params(name: str) -> float:
    return _preset_table()[name][1]


def preset(name: str, seq_len: int | None = None) -> ModelSpec:
    """A preset by name (case-insensitive), optionally at another context length."""
    table = _preset_table()
    key = name.strip().lower()
    if key not in table:
        raise unknown("model preset", name, list(table))
    spec = table[key][0]
    return spec.model_copy(update={"seq_len": seq_len}) if seq_len else spec


def nearest_preset(n_params: float) -> tuple[ModelSpec, float] | None:
    """The dense preset nearest in parameter count, with its relative distance."""
    best: tuple[ModelSpec, float] | None = None
    for spec, _ in _preset_table().values():
        if spec.is_moe:
            continue
        dist = abs(math.log(count_params(spec).total / n_params))
        if best is None or dist < best[1]:
            best = (spec, dist)
    return best


def derived_shape(n_params: float, seq_len: int = 2048, vocab: int = 32000) -> ModelSpec:
    """A Llama-style shape of about n_params (the rule in this module's docstring)."""
    best: ModelSpec | None = None
    best_err = math.inf
    for width_units in range(1, 1025):
        h = width_units * HEAD_DIM
        layers = max(1, round(h / ASPECT_RATIO))
        ffn = 256 * math.ceil(8 * h / 3 / 256)
        spec = ModelSpec(
            name=f"derived-{_short(n_params)}",
            layers=layers,
            hidden=h,
            heads=h // HEAD_DIM,
            ffn_hidden=ffn,
            mlp="swiglu",
            vocab=vocab,
            seq_len=seq_len,
            source="derived: width/depth 128, head 128, SwiGLU 8h/3 (advisor/model/presets.py)",
        )
        err = abs(math.log(count_params(spec).total / n_params))
        if err < best_err:
            best, best_err = spec, err
        elif count_params(spec).total > n_params:
            break
    assert best is not None
    return best


def _short(n: float) -> str:
    from advisor.units import format_size

    return format_size(n).lower()


def from_params(n_params: float, seq_len: int | None = None) -> ModelSpec:
    """The nearest preset within 10%, else a derived shape."""
    if n_params < 1e5:
        raise UsageError(f"--params: {n_params:.3g} is too small for a transformer (min 100k)")
    near = nearest_preset(n_params)
    if near is not None and math.exp(near[1]) - 1 <= NEAREST_TOLERANCE:
        spec = near[0]
        return spec.model_copy(update={"seq_len": seq_len}) if seq_len else spec
    return derived_shape(n_params, seq_len or 2048)


def _need(cfg: dict[str, Any], path: Path, *keys: str) -> Any:
    for k in keys:
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    raise DataError(f"{path}: missing key '{keys[0]}' (needed to read the model shape)")


def from_hf_config(path: Path, seq_len: int | None = None) -> ModelSpec:
    """Read a Hugging Face config.json (Llama, Mistral, Qwen2, Mixtral, GPT-2, GPT-NeoX)."""
    import json

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
    kind = str(cfg.get("model_type", "")).lower()
    name = str(cfg.get("_name_or_path") or path.parent.name or "hf-config") or "hf-config"
    try:
        if kind == "gpt2" or "n_embd" in cfg:
            h = int(_need(cfg, path, "n_embd"))
            positions = int(_need(cfg, path, "n_positions", "n_ctx"))
            spec = ModelSpec(
                name=name,
                layers=int(_need(cfg, path, "n_layer")),
                hidden=h,
                heads=int(_need(cfg, path, "n_head")),
                ffn_hidden=int(cfg.get("n_inner") or 4 * h),
                mlp="gelu",
                vocab=int(_need(cfg, path, "vocab_size")),
                seq_len=seq_len or positions,
                max_positions=positions,
                tied_embeddings=True,
                position="learned",
                norm="layernorm",
                linear_bias=True,
                dropout=float(cfg.get("resid_pdrop", 0.1) or 0) > 0,
                source=f"Hugging Face config {path}",
            )
        elif kind == "gpt_neox":
            spec = ModelSpec(
                name=name,
                layers=int(_need(cfg, path, "num_hidden_layers")),
                hidden=int(_need(cfg, path, "hidden_size")),
                heads=int(_need(cfg, path, "num_attention_heads")),
                ffn_hidden=int(_need(cfg, path, "intermediate_size")),
                mlp="gelu",
                vocab=int(_need(cfg, path, "vocab_size")),
                seq_len=seq_len or int(_need(cfg, path, "max_position_embeddings")),
                tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
                position="rope",
                norm="layernorm",
                linear_bias=True,
                source=f"Hugging Face config {path}",
            )
        else:
            act = str(cfg.get("hidden_act", "silu")).lower()
            heads = int(_need(cfg, path, "num_attention_heads"))
            experts = int(cfg.get("num_local_experts") or cfg.get("num_experts") or 1)
            spec = ModelSpec(
                name=name,
                layers=int(_need(cfg, path, "num_hidden_layers")),
                hidden=int(_need(cfg, path, "hidden_size")),
                heads=heads,
                kv_heads=int(cfg.get("num_key_value_heads") or heads),
                head_dim=int(cfg["head_dim"]) if cfg.get("head_dim") else None,
                ffn_hidden=int(_need(cfg, path, "intermediate_size")),
                mlp="swiglu" if act in ("silu", "swish", "swiglu") else "gelu",
                vocab=int(_need(cfg, path, "vocab_size")),
                seq_len=seq_len or int(_need(cfg, path, "max_position_embeddings")),
                tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
                position="rope",
                norm="rmsnorm",
                qkv_bias=kind.startswith("qwen2") or bool(cfg.get("attention_bias", False)),
                experts=experts,
                top_k=int(cfg.get("num_experts_per_tok") or 1) if experts > 1 else 1,
                source=f"Hugging Face config {path}",
            )
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "shape"
        raise DataError(f"{path}: invalid model shape: {where}: {first['msg']}") from e
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: invalid model shape: {e}") from e
    return spec
