"""Model shapes from a preset name, a parameter count, or explicit flags.

`--params N` rule: always one family, so that nearby sizes never jump between
families and contexts (7B used to snap to Pythia at 2k context and 7.5B to
Mistral at 8k, +46% device-hours). A Llama-style shape is derived (SwiGLU, RoPE,
RMSNorm, 32,000 vocab, untied): width/depth = 128 (GPT-3 175B's 12288/96; Kaplan
et al. 2020, §3.1 find loss flat over a wide range of aspect ratios around it),
heads a multiple of 8 (so tensor parallelism up to a node of 8 divides them) of
width nearest 128, SwiGLU width 8h/3 rounded up to a multiple of 256 (Llama's
rule), and the width is the multiple of 128 whose exact parameter count is nearest N.
At 7B and 13B the rule gives LLaMA's own shapes. The context is PARAMS_SEQ_LEN
unless --seq-len is given. The output says the shape, the context and the
nearest published preset (`--model NAME` uses that exact shape).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from advisor.errors import UsageError, unknown
from advisor.model.hf_config import from_hf_config as from_hf_config  # re-exported
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec

PRESET_FILE = Path(__file__).resolve().parent.parent / "data" / "model_presets.yaml"
# GPT-3's and LLaMA-1's training context (Brown et al. 2020, §2.1; Touvron et al. 2023, §2).
PARAMS_SEQ_LEN = 2048
ASPECT_RATIO = 128
HEAD_DIM = 128


@dataclass(frozen=True)
class PresetEntry:
    """A preset's shape with what the file says about it beyond the shape."""

    spec: ModelSpec
    # None where no total is sourced and the model's name prints no size (phi-3-mini-4k).
    published_params: float | None
    published_source: str | None
    aliases: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def _preset_table() -> dict[str, PresetEntry]:
    data = yaml.safe_load(PRESET_FILE.read_text(encoding="utf-8"))
    out: dict[str, PresetEntry] = {}
    for raw in data["presets"]:
        entry = dict(raw)
        raw_published = entry.pop("published_params", None)
        published = None if raw_published is None else float(raw_published)
        published_source = entry.pop("published_source", None)
        aliases = tuple(str(a).lower() for a in entry.pop("aliases", ()))
        out[entry["name"]] = PresetEntry(ModelSpec(**entry), published, published_source, aliases)
    return out


@functools.lru_cache(maxsize=1)
def _alias_table() -> dict[str, str]:
    """Every alias (lower case) to its preset's name."""
    return {a: name for name, e in _preset_table().items() for a in e.aliases}


def preset_names() -> list[str]:
    return list(_preset_table())


def preset_entries() -> list[PresetEntry]:
    """Every preset in file order, with its published count, its source and its aliases."""
    return list(_preset_table().values())


def published_params(name: str) -> float | None:
    return _preset_table()[name].published_params


def preset(name: str, seq_len: int | None = None) -> ModelSpec:
    """A preset by name or alias (case-insensitive), optionally at another context length."""
    table = _preset_table()
    key = name.strip().lower()
    key = _alias_table().get(key, key)
    if key not in table:
        raise unknown("model preset", name, list(table) + list(_alias_table()))
    spec = table[key].spec
    return spec.model_copy(update={"seq_len": seq_len}) if seq_len else spec


def nearest_preset(n_params: float) -> tuple[ModelSpec, float] | None:
    """The dense preset nearest in parameter count, with its relative distance."""
    best: tuple[ModelSpec, float] | None = None
    for spec in (e.spec for e in _preset_table().values()):
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
            heads=_heads(h),
            ffn_hidden=ffn,
            mlp="swiglu",
            vocab=vocab,
            seq_len=seq_len,
            source="derived: width/depth 128, heads of ~128 in 8s, SwiGLU 8h/3 "
            "(advisor/model/presets.py)",
        )
        err = abs(math.log(count_params(spec).total / n_params))
        if err < best_err:
            best, best_err = spec, err
        elif count_params(spec).total > n_params:
            break
    assert best is not None
    return best


def _heads(hidden: int) -> int:
    """A multiple of 8 dividing `hidden` whose head width is nearest HEAD_DIM (8 always divides
    a multiple of 128, so there is one)."""
    fits = [n for n in range(8, hidden + 1, 8) if hidden % n == 0]
    return min(fits, key=lambda n: abs(math.log(hidden / n / HEAD_DIM)))


def _short(n: float) -> str:
    from advisor.units import format_size

    return format_size(n).lower()


def from_params(n_params: float, seq_len: int | None = None) -> ModelSpec:
    """The derived Llama-style shape of about n_params, saying what it is and why."""
    if n_params < 1e5:
        raise UsageError(f"--params: {n_params:.3g} is too small for a transformer (min 100k)")
    spec = derived_shape(n_params, seq_len or PARAMS_SEQ_LEN)
    total = count_params(spec).total
    notes = [
        f"--params {_short(n_params).upper()}: Llama-style shape derived by rule "
        f"({spec.layers} layers, hidden {spec.hidden}, {spec.heads} heads of {spec.d_head}, "
        f"SwiGLU {spec.ffn}, vocab {spec.vocab}; {_short(total).upper()} parameters)"
    ]
    near = nearest_preset(total)
    if near is not None:
        name = near[0].name
        notes.append(
            f"nearest published shape: {name} "
            f"({_short(count_params(near[0]).total).upper()}); --model {name} uses it"
        )
    if not seq_len:
        notes.append(
            f"seq_len {PARAMS_SEQ_LEN}: the --params default (GPT-3's and LLaMA's training "
            "context); give --seq-len for another"
        )
    return spec.model_copy(update={"notes": tuple(notes)})
