"""Context parallelism (--cp N): the sequence split over N ranks, ring attention's K/V
exchange, dp = devices / (tp·pp·cp), searched like the other degrees."""

from __future__ import annotations

import json

import numpy as np
import pytest

from advisor.layout import LayoutChoice
from advisor.model.parallel import ring_attention_time, ring_chunk_bytes
from advisor.model.presets import preset
from advisor.search import enumerate_plans
from tests.conftest import assert_user_error

L3 = ["estimate", "--model", "llama-3-8b", "--accelerator", "h100", "--zero", "1"]
FIXED = ["--tp", "1", "--pp", "1", "--micro-batch", "1", "--recompute", "none"]


def _est(cli, *args: str) -> dict:
    r = cli(*L3, *FIXED, "--json", *args)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_cp_splits_devices_and_activations(cli) -> None:
    one = _est(cli, "--count", "8", "--cp", "1", "--global-batch-tokens", "1M")
    two = _est(cli, "--count", "8", "--cp", "2", "--global-batch-tokens", "1M")
    assert two["plan"]["cp"] == 2 and two["plan"]["dp"] == 4 and one["plan"]["dp"] == 8
    act1 = one["memory_per_device_bytes"]["activations"]
    act2 = two["memory_per_device_bytes"]["activations"]
    assert act2 == pytest.approx(act1 / 2)
    # weights are replicated over the context ranks; model FLOPs per token do not change
    assert two["memory_per_device_bytes"]["weights"] == one["memory_per_device_bytes"]["weights"]
    assert two["flops_per_token"] == one["flops_per_token"]
    assert "cp_comm" in two["breakdown_s"]
    assert sum(two["breakdown_s"].values()) == pytest.approx(two["step_time_s"])


def test_ring_exchange_bytes_and_steps() -> None:
    spec = preset("llama-3-8b")  # 8 kv heads of 128, s = 8192
    chunk = ring_chunk_bytes(spec, b=1, t=1, cp=4, elem=2)
    assert chunk == 2 * (8192 / 4) * 8 * 128 * 2  # K and V of one s/cp chunk
    # TP ranks hold kv_heads/t of them (at least one)
    assert ring_chunk_bytes(spec, b=1, t=16, cp=4, elem=2) == chunk / 8
    bw, lat = 100e9, 1e-5
    send = lat + chunk / bw
    # no overlap: cp-1 steps, one chunk forward and two (K/V, dK/dV) backward
    assert ring_attention_time(chunk, 4, 0.0, 0.0, bw, lat, overlap=False) == pytest.approx(
        3 * 3 * send
    )
    # overlap hides each step behind the attention over one chunk
    assert ring_attention_time(chunk, 4, 4 * send, 8 * send, bw, lat) == 0.0
    assert ring_attention_time(chunk, 1, 0.0, 0.0, bw, lat, overlap=False) == 0.0


def test_cp_across_nodes_exposes_ring_traffic(cli) -> None:
    args = ["--seq-len", "131072", "--global-batch-tokens", "2M", "--count", "32"]
    inside = _est(cli, *args, "--cp", "8")
    across = _est(cli, *args, "--cp", "32")
    assert across["breakdown_s"]["cp_comm"] >= inside["breakdown_s"]["cp_comm"]
    assert across["plan"]["dp"] == 1 and across["plan"]["cp"] == 32


def test_search_covers_cp_for_long_sequences_only() -> None:
    long = preset("llama-3-8b", 131072)
    plans = enumerate_plans(long, [64], 8, 4e6, LayoutChoice())
    assert {1, 2, 4, 8, 16, 32} <= set(np.unique(plans.cp).tolist())
    assert (plans.dp * plans.tp * plans.pp * plans.cp == 64).all()
    short = preset("llama-3-8b", 2048)
    assert set(np.unique(enumerate_plans(short, [64], 8, 4e6).cp).tolist()) == {1}


def test_estimate_chooses_cp_when_the_sequence_needs_it(cli) -> None:
    r = cli(
        "estimate", "--model", "llama-3-8b", "--seq-len", "262144", "--accelerator", "h100",
        "--count", "32", "--global-batch-tokens", "4M", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["fits"] and d["plan"]["cp"] > 1 and "cp" in d["chosen"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--cp", "0"], "--cp"),
        (["--cp", "3", "--seq-len", "4096"], "--cp 3 does not split the 4096-token sequence"),
        (["--cp", "16", "--count", "8"], "does not divide the 8 devices"),
    ],
)
def test_bad_cp_is_one_line(cli, args: list[str], needle: str) -> None:
    base = ["estimate", "--model", "llama-3-8b", "--accelerator", "h100"]
    if "--count" not in args:
        base += ["--count", "24"]
    assert_user_error(cli(*base, *args), 2, needle)
