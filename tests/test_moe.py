"""Mixture of experts and expert parallelism: counts, memory, all-to-all, search, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from advisor.catalog import load_catalog
from advisor.model.device import device_model
from advisor.model.flops import model_flops_per_token
from advisor.model.memory import model_state_memory
from advisor.model.moe import all_to_all_time, check_ep, remote_node_copies
from advisor.model.params import count_params
from advisor.model.plans import Plans
from advisor.model.presets import preset
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.model.time import step_time
from advisor.search import enumerate_plans
from tests.conftest import assert_user_error

DATA = Path(__file__).parent / "data"
DSV3_ESTIMATE = [
    "estimate",
    "--model",
    "deepseek-v3",
    "--accelerator",
    "h100-sxm5-80gb",
    "--count",
    "1024",
    "--tp",
    "2",
    "--pp",
    "8",
    "--ep",
    "64",
    "--precision",
    "fp8",
    "--stack",
    "megatron",
    "--json",
]


@pytest.fixture(scope="module")
def h100():
    cat = load_catalog()
    acc = cat.accelerator("h100-sxm5-80gb")
    return device_model(cat, acc, cat.profile_for(acc.id), None, 8, 400.0)


@pytest.mark.parametrize(
    ("name", "total_b", "active_b"),
    [
        # The sizes the model names and sources print, truncated to whole billions:
        # DeepSeek-V3 "671B total / 37B active", Qwen3 "30B-A3B" and "235B-A22B".
        ("deepseek-v3", 671, 37),
        ("qwen3-30b-a3b", 30, 3),
        ("qwen3-235b-a22b", 235, 22),
    ],
)
def test_moe_presets_match_their_published_totals(name, total_b, active_b) -> None:
    c = count_params(preset(name))
    assert int(c.total // 10**9) == total_b
    assert int(c.active // 10**9) == active_b


def test_dense_first_layers_and_shared_experts_are_counted() -> None:
    ds = preset("deepseek-v3")
    c = count_params(ds)
    # 3 dense blocks and 58 MoE blocks; each MoE block holds 256 routed + 1 shared expert.
    assert c.dense_layers == 3 and c.moe_layers == 58
    assert c.per_layer - c.dense_layer == (256 + 1) * c.mlp_expert + c.router - c.dense_mlp
    # The active count runs 8 routed + 1 shared expert per MoE block.
    assert c.per_layer - c.per_layer_active == (256 - 8) * c.mlp_expert
    # Multi-token prediction is counted apart from the published total.
    assert c.mtp > 0
    no_mtp = count_params(ds.model_copy(update={"mtp_layers": 0}))
    assert no_mtp.total == c.total and no_mtp.mtp == 0


def test_flops_use_active_parameters() -> None:
    ds = preset("deepseek-v3")
    c = count_params(ds)
    f = model_flops_per_token(ds)
    assert 6 * c.matmul_active < f < 6 * c.total / 10


def test_mla_changes_attention_weights_and_needs_its_fields() -> None:
    ds = preset("deepseek-v3")
    full_q = ds.model_copy(update={"q_lora_rank": None})
    # Without the query down-projection the query goes h -> heads x head_dim directly.
    assert count_params(full_q).attention > count_params(ds).attention
    with pytest.raises(ValueError, match="kv_lora_rank"):
        ModelSpec(layers=2, hidden=64, heads=4, vocab=100, qk_rope_head_dim=8)


def test_sliding_window_cuts_attention_flops() -> None:
    base = ModelSpec(layers=4, hidden=512, heads=8, vocab=1000, seq_len=8192, mlp="swiglu")
    half = base.model_copy(update={"sliding_window": 128, "sliding_layers": 2})
    wide = base.model_copy(update={"sliding_window": 8192, "sliding_layers": 4})
    assert model_flops_per_token(half) < model_flops_per_token(base)
    assert model_flops_per_token(wide) == model_flops_per_token(base)


def test_expert_parallelism_splits_expert_memory() -> None:
    spec = preset("qwen3-30b-a3b")
    tr = TrainingSpec(precision="bf16")
    plans = Plans.of(dp=16, tp=1, pp=1, vpp=1, sp=0, zero=1, mb=1, m=1, rec=0, ep=[1, 2, 8, 16])
    w = model_state_memory(spec, plans, tr).weights
    assert np.all(np.diff(w) < 0)
    # At ep = 16 a rank holds 8 of the 128 experts of every layer.
    c = count_params(spec)
    expert_bytes = 2 * c.layers * c.routed_per_layer
    assert w[0] - w[3] == pytest.approx(expert_bytes * (1 - 1 / 16))


def test_all_to_all_costs_more_across_nodes() -> None:
    args = dict(per_node=8, intra_bw=300e9, inter_bw_per_device=40e9)
    lat = dict(intra_latency=1e-5, inter_latency=2e-5)
    inside = all_to_all_time(1e8, 8, **args, **lat, top_k=8)
    across = all_to_all_time(1e8, 64, **args, **lat, top_k=8)
    assert 0 < inside < across
    assert all_to_all_time(1e8, 1, **args, **lat) == 0
    # A token sent once to each other node holding its experts, never more than its copies.
    assert remote_node_copies(8, 8, 8) == 0
    assert 0 < remote_node_copies(64, 8, 8) < 8 * 56 / 64


def test_ep_comm_and_expert_load_in_the_step(h100) -> None:
    spec = preset("qwen3-30b-a3b")
    one = Plans.of(dp=16, tp=1, pp=1, vpp=1, sp=0, zero=1, mb=1, m=8, rec=0, ep=[1, 16])
    st = step_time(spec, one, h100, "bf16")
    assert st.ep_comm[0] == 0 and st.ep_comm[1] > 0
    slow = step_time(spec, one, h100, "bf16", moe_load=1.5)
    assert np.all(slow.total > st.total) and slow.ep_comm[1] > st.ep_comm[1]
    dense = Plans.of(dp=8, tp=1, pp=1, vpp=1, sp=0, zero=1, mb=1, m=8, rec=0)
    assert step_time(preset("llama-2-7b"), dense, h100, "bf16").ep_comm[0] == 0


def test_search_grid_holds_expert_parallel_degrees() -> None:
    plans = enumerate_plans(preset("qwen3-30b-a3b"), [64], 8, 4e6)
    eps = set(plans.ep.tolist())
    assert {1, 2, 8, 64} <= eps and max(eps) <= 64
    assert np.all((plans.tp * plans.cp * plans.dp) % plans.ep == 0)
    assert set(enumerate_plans(preset("llama-2-7b"), [64], 8, 4e6).ep.tolist()) == {1}


def test_check_ep_says_why() -> None:
    assert "divide the 8 experts" in (check_ep(preset("mixtral-8x7b"), 3) or "")
    assert "dense model" in (check_ep(preset("llama-2-7b"), 2) or "")
    assert check_ep(preset("mixtral-8x7b"), 8) is None


def test_deepseek_v3_estimate_acceptance(cli) -> None:
    r = cli(*DSV3_ESTIMATE)
    assert r.code == 0, r.err
    d = json.loads(r.out)
    c = count_params(preset("deepseek-v3"))
    assert d["params"] == c.total and d["active_params"] == c.active
    assert d["breakdown_s"]["ep_comm"] > 0 and d["plan"]["ep"] == 64
    assert d["fits"] is True
    assert sum(d["breakdown_s"].values()) == pytest.approx(d["step_time_s"])
    text = " ".join(d["assumptions"])
    assert "TOTAL parameters" in text and "force-balance" in text
    # Its range comes from the MoE rows' cross-validated residuals, not the dense rows'.
    assert d["range"]["basis"]["group"].startswith("moe") and d["range"]["basis"]["count"] == 10
    low, high = d["range"]["step_time_s"]["low"], d["range"]["step_time_s"]["high"]
    assert low <= d["step_time_s"] <= high


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "mixtral-8x7b", "--ep", "3"], "does not divide the 8 experts"),
        (["--model", "llama-2-7b", "--ep", "2"], "dense model"),
    ],
)
def test_bad_ep_is_one_line(cli, args, needle) -> None:
    r = cli("estimate", *args, "--accelerator", "h100", "--count", "8")
    assert_user_error(r, 2, needle)


def test_hf_config_top_k_above_experts_is_one_line(cli, tmp_path: Path) -> None:
    cfg = json.loads((DATA / "qwen3-30b-a3b" / "config.json").read_text())
    cfg["num_experts_per_tok"] = 256
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    r = cli("estimate", "--hf-config", p, "--accelerator", "h100", "--count", "8")
    assert_user_error(r, 1, "num_experts_per_tok", "exceeds the experts (128)")


@pytest.mark.parametrize(
    ("folder", "name"), [("qwen3-30b-a3b", "qwen3-30b-a3b"), ("deepseek-v3", "deepseek-v3")]
)
def test_hf_configs_read_as_the_presets(cli, folder, name) -> None:
    from advisor.model.presets import from_hf_config

    spec = from_hf_config(DATA / folder / "config.json")
    assert count_params(spec) == count_params(preset(name).model_copy(update={"name": spec.name}))
    r = cli(
        "estimate", "--hf-config", DATA / folder / "config.json",
        "--accelerator", "h100", "--count", "64", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["active_params"] < d["params"] == count_params(spec).total


def test_gpt_oss_config_reads_windows_sinks_and_biases(tmp_path: Path) -> None:
    from advisor.model.presets import from_hf_config

    cfg = {  # a small made-up gpt-oss-shaped config: the reader's fields, not a real model
        "model_type": "gpt_oss",
        "architectures": ["GptOssForCausalLM"],
        "num_hidden_layers": 4,
        "hidden_size": 256,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "intermediate_size": 256,
        "num_local_experts": 8,
        "num_experts_per_tok": 2,
        "vocab_size": 1000,
        "max_position_embeddings": 4096,
        "sliding_window": 128,
        "layer_types": ["sliding_attention", "full_attention"] * 2,
    }
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    spec = from_hf_config(p)
    assert spec.sliding_layers == 2 and spec.sliding_window == 128
    assert spec.attention_sinks and spec.linear_bias and spec.experts == 8
    plain = spec.model_copy(update={"attention_sinks": False})
    assert count_params(spec).total - count_params(plain).total == 4 * 8


def test_accuracy_reports_moe_rows_cross_validated(cli) -> None:
    r = cli("accuracy", "--json")
    assert r.code == 0, r.err
    moe = json.loads(r.out)["moe"]
    s = moe["summary"]
    assert s["leave_one_model_out"]["n"] == 10
    assert "force-balanced" in s["note"]
    # The target: MoE rows within 12% median |error|, cross-validated.
    assert s["leave_one_model_out"]["median_abs_error"] <= 0.12
    assert s["leave_one_model_out"]["median_abs_error"] < s["napkin"]["median_abs_error"]


def test_recommend_lora_on_a_moe_preset(cli) -> None:
    r = cli("recommend", "--model", "qwen3-30b-a3b", "--method", "lora", "--budget", "300")
    assert r.code == 0, r.err
    assert "qwen3-30b-a3b" in r.out


def test_multi_token_prediction_adds_compute(h100) -> None:
    ds = preset("deepseek-v3")
    bare = ds.model_copy(update={"mtp_layers": 0})
    assert model_flops_per_token(ds) > model_flops_per_token(bare)
    plans = Plans.of(dp=64, tp=2, pp=8, vpp=1, sp=1, zero=1, mb=1, m=16, rec=0, ep=64)
    with_mtp = step_time(ds, plans, h100, "bf16").total
    assert with_mtp[0] > step_time(bare, plans, h100, "bf16").total[0]
