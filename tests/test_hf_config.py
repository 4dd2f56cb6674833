"""Reading Hugging Face config.json: refuse what is not modelled, name it, say the context used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.errors import DataError
from advisor.model.params import count_params
from advisor.model.presets import from_hf_config
from tests.conftest import assert_user_error

DATA = Path(__file__).parent / "data"
DEEPSEEK = DATA / "deepseek-v3" / "config.json"
H100 = ["--accelerator", "h100", "--count", "8"]


def _write(tmp_path: Path, cfg: dict, folder: str = "some-folder") -> Path:
    (tmp_path / folder).mkdir(exist_ok=True)
    p = tmp_path / folder / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def _deepseek_v2(tmp_path: Path) -> Path:
    """DeepSeek-V3's fields under an unsupported family (V3 itself is read: hf_moe.py)."""
    cfg = json.loads(DEEPSEEK.read_text())
    cfg |= {"model_type": "deepseek_v2", "architectures": ["DeepseekV2ForCausalLM"]}
    return _write(tmp_path, cfg)


def test_unsupported_family_is_refused_naming_the_ignored_fields(cli, tmp_path: Path) -> None:
    r = cli("estimate", "--hf-config", _deepseek_v2(tmp_path), *H100)
    assert_user_error(r, 1, "deepseek_v2", "not supported", "q_lora_rank", "kv_lora_rank")
    assert "n_routed_experts" in r.err and "moe_intermediate_size" in r.err


def test_recommend_refuses_an_unsupported_family_too(cli, tmp_path: Path) -> None:
    r = cli("recommend", "--hf-config", _deepseek_v2(tmp_path), "--budget", "5000")
    assert_user_error(r, 1, "deepseek_v2", "q_lora_rank")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"q_lora_rank": 1536, "kv_lora_rank": 512}, "q_lora_rank"),
        ({"n_shared_experts": 1}, "n_shared_experts"),
        ({"mlp_bias": True}, "mlp_bias"),
        ({"num_local_experts": 8, "num_experts_per_tok": 2}, "num_local_experts"),
        ({"layer_types": ["sliding_attention", "full_attention"]}, "layer_types"),
    ],
)
def test_known_family_with_unmodelled_shape_fields_is_refused(
    tmp_path: Path, extra: dict, named: str
) -> None:
    cfg = json.loads((DATA / "llama-2-7b-config.json").read_text()) | extra
    with pytest.raises(DataError, match=named):
        from_hf_config(_write(tmp_path, cfg))


def test_harmless_extra_fields_are_accepted(tmp_path: Path) -> None:
    base = json.loads((DATA / "llama-2-7b-config.json").read_text())
    cfg = base | {"mlp_bias": False, "layer_types": ["full_attention"] * 32, "rope_theta": 1e4}
    assert count_params(from_hf_config(_write(tmp_path, cfg))).total == 6_738_415_616


def test_unknown_architecture_under_a_known_model_type_is_refused(tmp_path: Path) -> None:
    cfg = json.loads((DATA / "llama-2-7b-config.json").read_text())
    cfg["architectures"] = ["DeepseekV3ForCausalLM"]
    with pytest.raises(DataError, match="DeepseekV3ForCausalLM"):
        from_hf_config(_write(tmp_path, cfg))


def test_config_without_family_is_refused(tmp_path: Path) -> None:
    cfg = json.loads((DATA / "llama-2-7b-config.json").read_text())
    del cfg["model_type"], cfg["architectures"]
    with pytest.raises(DataError, match="model_type"):
        from_hf_config(_write(tmp_path, cfg))


def test_architectures_alone_name_the_family(tmp_path: Path) -> None:
    cfg = json.loads((DATA / "llama-2-7b-config.json").read_text())
    del cfg["model_type"]
    assert count_params(from_hf_config(_write(tmp_path, cfg))).total == 6_738_415_616


def test_context_is_a_stated_training_default_not_max_positions(cli) -> None:
    cfg = json.loads((DATA / "qwen2-0.5b-config.json").read_text())
    r = cli("estimate", "--hf-config", DATA / "qwen2-0.5b-config.json", *H100, "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["model"]["seq_len"] < cfg["max_position_embeddings"]
    said = [a for a in d["assumptions"] if a.startswith(f"seq_len {d['model']['seq_len']}")]
    assert said and "--seq-len" in said[0] and str(cfg["max_position_embeddings"]) in said[0]
    # An explicit --seq-len is used as given and needs no note.
    r = cli("estimate", "--hf-config", DATA / "qwen2-0.5b-config.json", *H100, "--json",
            "--seq-len", "1024")  # fmt: skip
    d = json.loads(r.out)
    assert d["model"]["seq_len"] == 1024
    assert not [a for a in d["assumptions"] if a.startswith("seq_len")]


def test_short_context_models_keep_their_own() -> None:
    cfg = json.loads((DATA / "gpt2-config.json").read_text())
    assert from_hf_config(DATA / "gpt2-config.json").seq_len == cfg["n_positions"]


def test_name_comes_from_the_config_not_its_folder(tmp_path: Path) -> None:
    cfg = json.loads((DATA / "qwen2-0.5b-config.json").read_text())
    spec = from_hf_config(_write(tmp_path, cfg, folder="snapshot-abc123"))
    assert "snapshot" not in spec.name and spec.name.startswith("qwen2")
    cfg["_name_or_path"] = "Qwen/Qwen2-0.5B"
    assert from_hf_config(_write(tmp_path, cfg)).name == "Qwen/Qwen2-0.5B"
