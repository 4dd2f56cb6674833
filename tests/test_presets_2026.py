"""Current dense families: config.json readers, presets with exact counts, aliases, listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.errors import DataError
from advisor.model.params import count_params
from advisor.model.presets import from_hf_config, preset, preset_entries
from tests.conftest import assert_user_error

HF = Path(__file__).parent / "data" / "hf"
H100 = ["--accelerator", "h100", "--count", "8"]

# Each shipped config.json and the preset of the same checkpoint: the reader and the preset
# must give the same shape, so both meet the preset's published total.
CONFIG_PRESET = [
    ("llama-3.1-8b", "llama-3.1-8b"),
    ("llama-3.2-3b", "llama-3.2-3b"),
    ("qwen2.5-7b", "qwen2.5-7b"),
    ("qwen3-8b", "qwen3-8b"),
    ("gemma-2-9b", "gemma-2-9b"),
    ("phi-3-mini-4k", "phi-3-mini-4k"),
    ("phi-4", "phi-4"),
    ("olmo-2-7b", "olmo-2-7b"),
]


@pytest.mark.parametrize(("config", "name"), CONFIG_PRESET)
def test_each_family_reader_matches_the_published_total(config: str, name: str) -> None:
    spec = from_hf_config(HF / f"{config}-config.json")
    entry = next(e for e in preset_entries() if e.spec.name == name)
    assert count_params(spec).total == entry.published_params


def test_presets_with_a_published_total_meet_it_exactly() -> None:
    exact = [e for e in preset_entries() if e.published_source]
    assert len(exact) >= 10
    for e in exact:
        assert count_params(e.spec).total == e.published_params, e.spec.name


def test_qwen3_and_olmo2_count_their_query_key_norms() -> None:
    qwen3 = from_hf_config(HF / "qwen3-8b-config.json")
    olmo2 = from_hf_config(HF / "olmo-2-7b-config.json")
    plain = qwen3.model_copy(update={"qk_norm": False})
    # Qwen3: one head_dim RMSNorm for queries and one for keys in every layer.
    assert count_params(qwen3).total - count_params(plain).total == 36 * 2 * 128
    # OLMo 2: RMSNorm over every query head and every key head.
    plain = olmo2.model_copy(update={"qk_norm": False, "qk_norm_full": False})
    assert count_params(olmo2).total - count_params(plain).total == 32 * (4096 + 4096)


def test_gemma2_has_four_norms_tied_embeddings_and_sliding_layers() -> None:
    spec = from_hf_config(HF / "gemma-2-9b-config.json")
    assert (spec.layer_norms, spec.tied_embeddings, spec.head_dim) == (4, True, 256)
    assert spec.d_head * spec.heads != spec.hidden  # head_dim independent of hidden/heads
    assert (spec.sliding_window, spec.sliding_layers) == (4096, 21)  # every other layer
    assert any("GeGLU" in n for n in spec.notes)


def test_gemma3_nested_text_config_with_class_defaults(cli) -> None:
    path = HF / "gemma-3-4b-config.json"
    spec = from_hf_config(path)
    text = json.loads(path.read_text())["text_config"]
    assert (spec.layers, spec.hidden, spec.ffn) == (
        text["num_hidden_layers"],
        text["hidden_size"],
        text["intermediate_size"],
    )
    assert spec.qk_norm and not spec.qk_norm_full and spec.tied_embeddings
    # sliding_window_pattern 6: every sixth layer global, the other 29 of 34 local.
    assert spec.sliding_layers == 34 - 34 // 6 and spec.sliding_window == text["sliding_window"]
    said = " ".join(spec.notes)
    assert "vision tower" in said and "num_attention_heads 8" in said
    r = cli("estimate", "--hf-config", path, *H100, "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["params"] == count_params(spec).total
    assert any("sliding-window" in a for a in d["assumptions"])


@pytest.mark.parametrize("config", [c for c, _ in CONFIG_PRESET])
def test_every_reader_works_through_the_cli(cli, config: str) -> None:
    r = cli("estimate", "--hf-config", HF / f"{config}-config.json", *H100, "--json")
    assert r.code == 0, r.err
    assert (
        json.loads(r.out)["params"]
        == count_params(from_hf_config(HF / f"{config}-config.json")).total
    )


def _write(tmp_path: Path, cfg: dict) -> Path:
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


@pytest.mark.parametrize(
    ("config", "change", "needle"),
    [
        ("gemma-3-4b", {"text_config": {"model_type": "gemma3_text"}}, "text_config.num_hidden"),
        ("qwen3-8b", {"num_experts": 128, "num_experts_per_tok": 8}, "num_experts"),
        ("phi-3-mini-4k", {"num_attention_heads": 7, "num_key_value_heads": 7}, "not divisible"),
        ("olmo-2-7b", {"architectures": ["Qwen3ForCausalLM"]}, "disagree"),
        ("llama-3.1-8b", {"model_type": "gemma7"}, "not supported"),
        ("gemma-2-9b", {"num_key_value_heads": 5}, "multiple of kv_heads"),
    ],
)
def test_bad_configs_give_one_clear_line(
    cli, tmp_path: Path, config: str, change: dict, needle: str
) -> None:
    cfg = json.loads((HF / f"{config}-config.json").read_text()) | change
    path = _write(tmp_path, cfg)
    with pytest.raises(DataError, match=needle):
        from_hf_config(path)
    assert_user_error(cli("estimate", "--hf-config", path, *H100), 1, needle, str(path))


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("llama-3.3-70b", "llama-3.1-70b"),
        ("Meta-Llama/Llama-3.1-8B", "llama-3.1-8b"),
        ("qwen/qwen2.5-7b", "qwen2.5-7b"),
        ("google/gemma-2-9b", "gemma-2-9b"),
    ],
)
def test_aliases_name_their_preset(cli, alias: str, name: str) -> None:
    assert preset(alias).name == name
    r = cli("estimate", "--model", alias, *H100, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["params"] == count_params(preset(name)).total


def test_unknown_preset_suggests_an_alias(cli) -> None:
    assert_user_error(cli("estimate", "--model", "llama-3.3-70", *H100), 2, "llama-3.3-70b")


def test_catalog_list_models_shows_shapes_context_and_sources(cli) -> None:
    r = cli("catalog", "list", "models", "--json")
    assert r.code == 0, r.err
    docs = {d["name"]: d for d in json.loads(r.out)["models"]}
    assert set(docs) == {e.spec.name for e in preset_entries()}
    g = docs["gemma-2-9b"]
    assert g["params"] == count_params(preset("gemma-2-9b")).total
    assert g["training_context"] == preset("gemma-2-9b").seq_len
    assert g["head_dim"] == 256 and "HFNOTES" in g["source"] and "google/gemma-2-9b" in g["aliases"]
    r = cli("catalog", "list", "models")
    assert r.code == 0 and "qwen2.5-72b" in r.out and "context" in r.out
