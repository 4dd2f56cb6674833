"""Current dense families: config.json readers, presets with name-nominal sizes, aliases,
listing."""

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

# Checkpoint copies (tests/data/hf/SOURCE.md: values from launch-formats.md §7.2) and the
# preset of the same checkpoint: the reader and the preset must give the same shape.
CONFIG_PRESET = [
    ("llama-3.1-8b", "llama-3.1-8b"),
    ("qwen2.5-7b", "qwen2.5-7b"),
    ("gemma-2-9b", "gemma-2-9b"),
    ("phi-3-mini-4k", "phi-3-mini-4k"),
]
SYNTHETIC = [
    "qwen3-dense-synthetic",
    "olmo2-synthetic",
    "phi3-synthetic",
    "gemma3-multimodal-synthetic",
    "llama-tied-head-dim-synthetic",
]
CONFIGS = [c for c, _ in CONFIG_PRESET] + SYNTHETIC
NAMED = "the model's name"


@pytest.mark.parametrize(("config", "name"), CONFIG_PRESET)
def test_each_checkpoint_config_reads_as_its_preset(config: str, name: str) -> None:
    spec = from_hf_config(HF / f"{config}-config.json")
    assert count_params(spec).total == count_params(preset(name)).total
    fields = ("layers", "hidden", "heads", "n_kv", "d_head", "ffn", "vocab", "tied_embeddings")
    assert [getattr(spec, f) for f in fields] == [getattr(preset(name), f) for f in fields]


@pytest.mark.parametrize(
    ("name", "billions"),
    [
        # No exact total for these is in the shared reference: the size each name prints.
        ("llama-3.1-8b", 8),
        ("llama-3.1-70b", 70),
        ("llama-3.1-405b", 405),
        ("qwen2.5-7b", 7),
        ("qwen2.5-72b", 72),
        ("gemma-2-9b", 9),
    ],
)
def test_presets_truncate_to_the_size_their_name_prints(name: str, billions: int) -> None:
    entry = next(e for e in preset_entries() if e.spec.name == name)
    assert entry.published_params == billions * 10**9
    assert entry.published_source == f"{NAMED}: {billions}B; no exact total in the shared reference"
    assert name.endswith(f"-{billions}b")
    assert int(count_params(entry.spec).total // 10**9) == billions


def test_no_preset_carries_a_recalled_total() -> None:
    entries = {e.spec.name: e for e in preset_entries()}
    # Shapes not in the shared reference (or, for Llama-3.2-3B, its vocab) are not shipped.
    assert not {"qwen3-8b", "phi-4", "olmo-2-7b", "llama-3.2-3b"} & set(entries)
    assert entries["phi-3-mini-4k"].published_params is None  # its name prints no size
    for e in entries.values():
        assert e.published_source is None or e.published_source.startswith(NAMED), e.spec.name


def _read(config: str):
    path = HF / f"{config}-config.json"
    return from_hf_config(path), json.loads(path.read_text())


READ = ("layers", "hidden", "heads", "n_kv", "d_head", "ffn", "vocab", "tied_embeddings")
NORMS = ("qk_norm", "qk_norm_full", "layer_norms", "sliding_window", "sliding_layers")


@pytest.mark.parametrize(
    ("config", "shape", "norms", "total"),
    [
        # Totals by hand: per layer attention q h*H*hd + k,v 2*h*KV*hd + o H*hd*h, q/k norms,
        # SwiGLU/GeGLU 3*h*ff, norms; then embeddings (twice if untied) and the final norm h.
        (
            "qwen3-dense-synthetic",
            (4, 256, 4, 2, 96, 512, 1000, False),
            (True, False, 2, None, 0),
            4 * (256 * 384 + 2 * 256 * 192 + 384 * 256 + 2 * 96 + 3 * 256 * 512 + 2 * 256)
            + 2 * 1000 * 256
            + 256,
        ),
        (
            "olmo2-synthetic",
            (3, 192, 6, 3, 32, 384, 700, False),
            (True, True, 2, None, 0),
            3 * (192 * 192 + 2 * 192 * 96 + 192 * 192 + (192 + 96) + 3 * 192 * 384 + 2 * 192)
            + 2 * 700 * 192
            + 192,
        ),
        (
            "phi3-synthetic",
            (2, 128, 4, 2, 32, 320, 512, False),
            (False, False, 2, None, 0),
            2 * (128 * 128 + 2 * 128 * 64 + 128 * 128 + 3 * 128 * 320 + 2 * 128)
            + 2 * 512 * 128
            + 128,
        ),
        (
            # sliding_window_pattern 6: every sixth of 12 layers global, 10 local.
            "gemma3-multimodal-synthetic",
            (12, 320, 4, 2, 64, 640, 900, True),
            (True, False, 4, 128, 10),
            12 * (320 * 256 + 2 * 320 * 128 + 256 * 320 + 2 * 64 + 3 * 320 * 640 + 4 * 320)
            + 900 * 320
            + 320,
        ),
        (
            "llama-tied-head-dim-synthetic",
            (2, 192, 3, 1, 128, 512, 640, True),
            (False, False, 2, None, 0),
            2 * (192 * 384 + 2 * 192 * 128 + 384 * 192 + 3 * 192 * 512 + 2 * 192) + 640 * 192 + 192,
        ),
    ],
)
def test_synthetic_configs_read_every_field(config, shape, norms, total) -> None:
    spec, cfg = _read(config)
    assert tuple(getattr(spec, f) for f in READ) == shape
    assert tuple(getattr(spec, f) for f in NORMS) == norms
    assert count_params(spec).total == total
    assert spec.name == cfg["_name_or_path"] and spec.name.startswith("synthetic/")


def test_qwen3_and_olmo2_count_their_query_key_norms() -> None:
    qwen3, _ = _read("qwen3-dense-synthetic")
    olmo2, _ = _read("olmo2-synthetic")
    plain = qwen3.model_copy(update={"qk_norm": False})
    # Qwen3: one head_dim RMSNorm for queries and one for keys in every layer.
    assert count_params(qwen3).total - count_params(plain).total == 4 * 2 * 96
    # OLMo 2: RMSNorm over every query head and every key head.
    plain = olmo2.model_copy(update={"qk_norm": False, "qk_norm_full": False})
    assert count_params(olmo2).total - count_params(plain).total == 3 * (6 * 32 + 3 * 32)


def test_gemma2_has_four_norms_tied_embeddings_and_sliding_layers() -> None:
    spec = from_hf_config(HF / "gemma-2-9b-config.json")
    assert (spec.layer_norms, spec.tied_embeddings, spec.head_dim) == (4, True, 256)
    assert spec.d_head * spec.heads != spec.hidden  # head_dim independent of hidden/heads
    assert (spec.sliding_window, spec.sliding_layers) == (4096, 21)  # every other layer
    assert any("GeGLU" in n for n in spec.notes)
    # The file leaves tie_word_embeddings to Gemma2Config's sourced default, said.
    assert any("defaults: tie_word_embeddings True" in n for n in spec.notes)


def test_gemma3_nested_text_config(cli) -> None:
    path = HF / "gemma3-multimodal-synthetic-config.json"
    spec = from_hf_config(path)
    said = " ".join(spec.notes)
    assert "vision tower" in said and "defaults" not in said  # every field given
    r = cli("estimate", "--hf-config", path, *H100, "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["params"] == count_params(spec).total
    assert any("sliding-window" in a for a in d["assumptions"])


def test_gemma3_pattern_left_out_takes_the_sourced_default(tmp_path: Path) -> None:
    cfg = json.loads((HF / "gemma3-multimodal-synthetic-config.json").read_text())
    del cfg["text_config"]["sliding_window_pattern"]
    spec = from_hf_config(_write(tmp_path, cfg))
    assert spec.sliding_layers == 12 - 12 // 6
    assert any("defaults: sliding_window_pattern 6" in n for n in spec.notes)


@pytest.mark.parametrize(
    "field",
    [
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "vocab_size",
        "max_position_embeddings",
        "sliding_window",
        "tie_word_embeddings",
    ],
)
def test_gemma3_field_left_out_with_no_sourced_default_fails(cli, tmp_path, field) -> None:
    cfg = json.loads((HF / "gemma3-multimodal-synthetic-config.json").read_text())
    del cfg["text_config"][field]
    path = _write(tmp_path, cfg)
    needle = f"text_config.{field}"
    with pytest.raises(DataError, match=needle):
        from_hf_config(path)
    r = cli("estimate", "--hf-config", path, *H100)
    assert_user_error(r, 1, needle, "class default", "not shipped")
    assert len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize("config", CONFIGS)
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
        (
            "gemma3-multimodal-synthetic",
            {"text_config": {"model_type": "gemma3_text"}},
            "text_config.num_hidden",
        ),
        ("qwen3-dense-synthetic", {"num_experts": 8, "num_experts_per_tok": 2}, "num_experts"),
        ("phi-3-mini-4k", {"num_attention_heads": 7, "num_key_value_heads": 7}, "not divisible"),
        ("olmo2-synthetic", {"architectures": ["Qwen3ForCausalLM"]}, "disagree"),
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
        ("meta-llama/llama-3.1-70b", "llama-3.1-70b"),
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
    assert_user_error(cli("estimate", "--model", "qwen/qwen2.5-7", *H100), 2, "qwen/qwen2.5-7b")


def test_catalog_list_models_shows_shapes_context_and_sources(cli) -> None:
    r = cli("catalog", "list", "models", "--json")
    assert r.code == 0, r.err
    docs = {d["name"]: d for d in json.loads(r.out)["models"]}
    assert set(docs) == {e.spec.name for e in preset_entries()}
    g = docs["gemma-2-9b"]
    assert g["params"] == count_params(preset("gemma-2-9b")).total
    assert g["training_context"] == preset("gemma-2-9b").seq_len
    assert g["head_dim"] == 256 and "HFNOTES" in g["source"] and "google/gemma-2-9b" in g["aliases"]
    assert g["published_params"] == 9e9 and g["published_source"].startswith(NAMED)
    assert "published_params" not in docs["phi-3-mini-4k"]  # its name prints no size
    r = cli("catalog", "list", "models")
    assert r.code == 0 and "qwen2.5-72b" in r.out and "context" in r.out
