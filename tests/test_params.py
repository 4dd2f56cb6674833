"""Parameter counts computed from shapes, against published counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.model.params import count_params
from advisor.model.presets import (
    derived_shape,
    from_hf_config,
    from_params,
    preset,
    preset_entries,
    published_params,
)

NAMED = "the model's name"

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # Hugging Face model cards / safetensors index totals.
        ("llama-2-7b", 6_738_415_616),
        ("mistral-7b", 7_241_732_096),
        ("llama-3-8b", 8_030_261_248),
        # GPT-2 small as counted by Hugging Face (the paper prints 117M).
        ("gpt2", 124_439_808),
        # Pythia paper (Biderman et al. 2023) Table 1 prints exact totals.
        ("pythia-70m", 70_426_624),
        ("pythia-1b", 1_011_781_632),
        ("pythia-12b", 11_846_072_320),
        # Mixtral 8x7B total parameters (Mixtral model card: 46.7B).
        ("mixtral-8x7b", 46_702_792_704),
    ],
)
def test_exact_parameter_counts(name: str, expected: int) -> None:
    assert count_params(preset(name)).total == expected


def test_every_preset_is_close_to_its_published_size() -> None:
    # GPT-3 and LLaMA-1 tables print rounded sizes; shapes must land within 2%. Sizes taken
    # from a model's name (Qwen2.5-7B counts 7.6B) are checked by truncation in
    # tests/test_presets_2026.py; a preset with no published size has none to meet.
    checked = 0
    for e in preset_entries():
        name = e.spec.name
        if published_params(name) is None or (e.published_source or "").startswith(NAMED):
            continue
        n = count_params(preset(name)).total
        assert abs(n / published_params(name) - 1) < 0.02, name
        checked += 1
    assert checked >= 30


def test_moe_active_parameters_count_top_k_experts() -> None:
    c = count_params(preset("mixtral-8x7b"))
    # Mixtral paper: 13B active parameters per token (12.9B).
    assert 12.8e9 < c.active < 13.0e9
    assert c.total - c.active == 32 * 6 * c.mlp_expert


def test_gqa_reduces_attention_parameters() -> None:
    mha = preset("llama-2-7b").model_copy(update={"kv_heads": 32})
    gqa = preset("llama-2-7b").model_copy(update={"kv_heads": 8})
    diff = count_params(mha).attention - count_params(gqa).attention
    assert diff == 2 * 4096 * (4096 - 1024)


def test_tied_embeddings_count_the_table_once() -> None:
    untied = preset("gpt2").model_copy(update={"tied_embeddings": False})
    assert count_params(untied).total - count_params(preset("gpt2")).total == 50257 * 768


FAMILY = ("mlp", "vocab", "position", "norm", "tied_embeddings", "linear_bias", "seq_len")


def test_params_keeps_one_family_at_every_size() -> None:
    """--params never jumps between families or contexts as the size moves (issue 9, item 10)."""
    specs = [from_params(n) for n in (0.125e9, 1.3e9, 6.9e9, 7e9, 7.5e9, 8e9, 13e9, 70e9, 175e9)]
    for spec in specs:
        assert [getattr(spec, f) for f in FAMILY] == [getattr(specs[0], f) for f in FAMILY]
        assert spec.heads % 8 == 0  # tensor parallelism up to a node of 8 divides them
    totals = [count_params(s).total for s in specs]
    assert totals == sorted(totals)


def test_params_says_its_shape_context_and_nearest_preset() -> None:
    spec = from_params(7e9)
    said = " ".join(spec.notes)
    assert f"{spec.layers} layers" in said and f"hidden {spec.hidden}" in said
    assert f"seq_len {spec.seq_len}" in said
    assert "--model llama-7b" in said or "--model llama-2-7b" in said
    assert not any("seq_len" in n for n in from_params(7e9, seq_len=4096).notes)


def test_params_far_from_presets_derives_a_shape() -> None:
    spec = from_params(20e9)
    n = count_params(spec).total
    assert spec.name.startswith("derived")
    assert abs(n / 20e9 - 1) < 0.05
    assert spec.hidden % 128 == 0 and spec.hidden // spec.layers in range(100, 160)
    assert derived_shape(3e11).hidden > derived_shape(3e10).hidden


def _write(tmp_path: Path, cfg: dict) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_hf_llama_config_matches_preset(tmp_path: Path) -> None:
    cfg = json.loads((DATA / "llama-2-7b-config.json").read_text())
    spec = from_hf_config(_write(tmp_path, cfg))
    assert count_params(spec).total == 6_738_415_616
    assert spec.seq_len == 4096


@pytest.mark.parametrize(
    ("fname", "expected"),
    [
        ("mistral-7b-config.json", 7_241_732_096),
        ("gpt2-config.json", 124_439_808),
        ("pythia-70m-config.json", 70_426_624),
        ("mixtral-8x7b-config.json", 46_702_792_704),
        # Qwen2-0.5B: 494,032,768 parameters (model card "0.49B"; q/k/v biases, tied).
        ("qwen2-0.5b-config.json", 494_032_768),
    ],
)
def test_hf_configs(fname: str, expected: int) -> None:
    spec = from_hf_config(DATA / fname)
    assert count_params(spec).total == expected
