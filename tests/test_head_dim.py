"""--head-dim where heads x head_dim is not the hidden size (MaxText's synthetic shapes,
Gemma): parameters, FLOPs, memory and time use heads x head_dim for Q, K, V and O."""

from __future__ import annotations

import json

from tests.conftest import assert_user_error

SHAPE = ["--layers", "8", "--hidden", "4096", "--heads", "32", "--vocab", "32000"]
HW = ["--accelerator", "h100", "--count", "8", "--tp", "1", "--pp", "1", "--zero", "0"]
LAYOUT = ["--micro-batch", "1", "--recompute", "none", "--global-batch-tokens", "16384"]


def _run(cli, *extra: str) -> dict:
    r = cli("estimate", *SHAPE, *HW, *LAYOUT, "--json", *extra)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_head_dim_changes_attention_params_and_flops(cli) -> None:
    base, wide = _run(cli), _run(cli, "--head-dim", "256")
    L, h, heads, s = 8, 4096, 32, 2048
    # Q, K, V, O each h x (heads x head_dim): 4·h·heads·(256 - 128) more per layer
    assert wide["params"] - base["params"] == L * 4 * h * heads * (256 - 128)
    assert wide["model"]["head_dim"] == 256
    # PaLM: 6·ΔN + 12·L·s·(heads·Δhead_dim) per token
    d_flops = 6 * L * 4 * h * heads * 128 + 12 * L * s * heads * 128
    assert abs(wide["flops_per_token"] - base["flops_per_token"] - d_flops) < 1e-6 * d_flops
    assert (
        wide["memory_per_device_bytes"]["activations"]
        > base["memory_per_device_bytes"]["activations"]
    )
    assert wide["step_time_s"] > base["step_time_s"]


def test_head_dim_lets_hidden_not_divide_by_heads(cli) -> None:
    r = cli(
        "estimate", "--layers", "4", "--hidden", "1000", "--heads", "16", "--head-dim", "64",
        "--vocab", "1000", *HW, "--json",
    )  # fmt: skip
    assert r.code == 0, r.err


def test_bad_head_dim_is_one_line(cli) -> None:
    assert_user_error(cli("estimate", *SHAPE, *HW, "--head-dim", "-1"), 2, "--head-dim")
    r = cli("estimate", "--model", "llama-2-7b", "--head-dim", "64", *HW)
    assert_user_error(r, 2, "--head-dim")
