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

import yaml

from advisor.errors import UsageError, unknown
from advisor.model.hf_config import from_hf_config as from_hf_config  # re-exported
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
