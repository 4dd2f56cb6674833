"""Issue 11, deliverable 6 and deliverable 2's CPU offload: recommend names the cheapest
hardware a run fits on and the fastest within budget; when nothing fits it says what
would (QLoRA, a smaller rank, checkpointing, offload, more devices), and so does
estimate; `--offload optimizer|params` moves states to host memory and pays the
host-device transfers and the CPU optimizer step."""

from __future__ import annotations

import json

import pytest

from advisor.catalog import load_catalog
from tests.conftest import assert_user_error

LORA_70B = ("--model", "llama-3-70b", "--method", "lora")


def test_lora_70b_on_a_budget_names_cheapest_and_fastest(cli) -> None:
    r = cli("recommend", *LORA_70B, "--tokens", "200M", "--budget", "500", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["options"], "ranked options expected"
    cheap, fast = d["cheapest_that_fits"], d["fastest_within_budget"]
    costs = [o["cost_usd"] for o in d["options"]]
    assert cheap["cost_usd"] <= min(costs) + 1e-6
    assert fast["cost_usd"] <= 500 and fast["within_limits"]
    assert fast["time_s"] <= min(o["wall_time_s"] for o in d["options"]) + 1e-6
    for p in (cheap, fast):
        assert {"offering", "provider", "nodes", "accelerator", "devices"} <= set(p)
    ranked = {(o["offering"], o["nodes"]): o["rank"] for o in d["options"]}
    if (cheap["offering"], cheap["nodes"]) in ranked:
        assert cheap["rank"] == ranked[(cheap["offering"], cheap["nodes"])]
    text = cli("recommend", *LORA_70B, "--tokens", "200M", "--budget", "500")
    assert "cheapest that fits: " in text.out and "fastest within budget: " in text.out
    assert cheap["offering"] in text.out and fast["offering"] in text.out


def test_pretraining_names_both_answers_too(cli) -> None:
    d = json.loads(cli("recommend", "--params", "1.3B", "--budget", "5000", "--json").out)
    assert d["cheapest_that_fits"]["rank"] is not None
    assert d["fastest_within_budget"]["cost_usd"] <= 5000


def test_budget_too_small_keeps_the_cheapest_and_has_no_fastest(cli) -> None:
    r = cli("recommend", *LORA_70B, "--tokens", "200M", "--budget", "5", "--json")
    d = json.loads(r.out)
    assert d["shortfall"] is not None
    assert d["cheapest_that_fits"]["within_limits"] is False
    assert d["cheapest_that_fits"]["cost_usd"] > 5
    assert "fastest_within_budget" not in d


def test_nothing_fits_says_what_would(cli) -> None:
    args = ("recommend", *LORA_70B, "--accelerators", "rtx-4090", "--budget", "5000")
    r = cli(*args, "--json")
    assert r.code == 1
    assert "nothing fits" in r.err and "Traceback" not in r.err
    d = json.loads(r.out)
    alts = d["what_would_fit"]
    changes = {a["change"] for a in alts}
    assert changes & {"--method qlora", "--offload params"} or any(
        c.startswith("--max-devices") for c in changes
    ), changes
    cap = load_catalog().accelerator("rtx-4090").memory_bytes
    for a in alts:
        assert a["memory"] <= cap and a["cost"] > 0 and a["offering"]
    # each change is evaluated through the model: recommend with it finds that option
    a = alts[0]
    flag, value = a["change"].split()
    again = json.loads(
        cli("recommend", *LORA_70B, "--accelerators", "rtx-4090", flag, value, "--json").out
    )
    found = {(o["offering"], o["nodes"]) for o in again["options"]}
    assert (a["offering"], a["nodes"]) in found or again["shortfall"] is not None
    text = cli(*args)
    assert "what would fit" in text.out and alts[0]["change"] in text.out


def test_estimate_that_does_not_fit_says_what_would(cli) -> None:
    args = ("estimate", *LORA_70B, "--accelerator", "rtx-4090", "--count", "1")
    r = cli(*args, "--tokens", "200M", "--json")
    d = json.loads(r.out)
    assert d["fits"] is False
    alts = d["what_would_fit"]
    assert alts
    for a in alts:
        assert a["memory"] <= d["memory_capacity_bytes"]
    more = [a for a in alts if a["change"].startswith("--count")]
    assert more and more[0]["devices"] > 1
    n = more[0]["change"].split()[1]
    check = json.loads(cli(*args[:-2], "--count", n, "--tokens", "200M", "--json").out)
    assert check["fits"] is True
    text = cli(*args, "--tokens", "200M").out.splitlines()
    assert text[0].startswith("does NOT fit") and text[1].startswith("would fit: --")


def _est(cli, *extra: str) -> dict:
    r = cli(
        "estimate",
        "--model",
        "llama-3-8b",
        "--accelerator",
        "h100-sxm5-80gb",
        "--count",
        "8",
        "--tp",
        "1",
        "--pp",
        "1",
        "--zero",
        "2",
        "--micro-batch",
        "1",
        "--recompute",
        "full",
        "--tokens",
        "1B",
        "--json",
        *extra,
    )
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_offload_optimizer_moves_states_to_host_and_pays_transfers(cli) -> None:
    base = _est(cli)
    off = _est(cli, "--offload", "optimizer")
    m0, m1 = base["memory_per_device_bytes"], off["memory_per_device_bytes"]
    assert m1["optimizer"] == 0 and m1["gradients"] == 0
    assert m1["weights"] == pytest.approx(m0["weights"])
    assert m1["total"] < m0["total"]
    # the host holds what left the device, for each of the node's 8 devices
    moved = m0["optimizer"] + m0["gradients"]
    assert off["host_memory_bytes"] == pytest.approx(8 * moved)
    from advisor.model.offload import host_path

    cat = load_catalog()
    acc = cat.accelerator("h100-sxm5-80gb")
    link = host_path(cat, acc, None, 8).link_bandwidth
    # gradients to the host and parameters back, over the host link
    assert off["offload_s"]["transfer"] == pytest.approx(2 * m0["gradients"] / link)
    assert off["offload_s"]["cpu_optimizer"] > 0
    assert off["step_time_s"] > base["step_time_s"]
    assert off["breakdown_s"]["optimizer"] == pytest.approx(
        off["offload_s"]["transfer"] + off["offload_s"]["cpu_optimizer"]
    )
    assert sum(off["breakdown_s"].values()) == pytest.approx(off["step_time_s"])
    assert any("Ren et al. 2021" in a for a in off["assumptions"])
    assert any("PCIe" in a and "offload" in a for a in off["assumptions"])
    assert "host_memory_bytes" not in base and "offload" not in base


def test_offload_params_moves_weights_and_fetches_them_each_micro_batch(cli) -> None:
    opt = _est(cli, "--offload", "optimizer")
    par = _est(cli, "--offload", "params")
    w0, w1 = opt["memory_per_device_bytes"]["weights"], par["memory_per_device_bytes"]["weights"]
    assert w1 < w0 / 10  # two of 32 blocks stay on the device
    assert par["host_memory_bytes"] == pytest.approx(
        opt["host_memory_bytes"] + 8 * (w0 - w1), rel=0.1
    )
    fetch = par["offload_s"]["transfer"] - opt["offload_s"]["transfer"]
    assert fetch > 0
    assert par["breakdown_s"]["memory_bound"] == pytest.approx(
        opt["breakdown_s"]["memory_bound"] + fetch
    )


def test_recommend_with_offload_reports_host_memory(cli) -> None:
    r = cli(
        "recommend",
        "--model",
        "llama-3-8b",
        "--method",
        "lora",
        "--tokens",
        "100M",
        "--accelerators",
        "rtx-4090",
        "--offload",
        "optimizer",
        "--json",
    )
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["query"]["offload"] == "optimizer"
    o = d["options"][0]
    assert o["offload"] == "optimizer" and o["host_memory_bytes"] > 0


@pytest.mark.parametrize("command", ["estimate", "recommend"])
def test_bad_offload_is_one_line(cli, command) -> None:
    hw = ("--accelerator", "h100") if command == "estimate" else ()
    r = cli(command, "--params", "1.3B", *hw, "--offload", "maybe")
    assert_user_error(r, 2, "offload", "maybe")


def test_offload_leaves_out_nodes_short_of_host_memory(cli) -> None:
    args = ("--params", "1.3B", "--accelerators", "a10g", "--providers", "aws", "--tokens", "10B")
    d = json.loads(cli("recommend", *args, "--offload", "optimizer", "--top", "1000", "--json").out)
    cat = load_catalog()
    for o in d["options"]:  # every option's node holds what offload puts in host memory
        have = cat.offering(o["offering"]).host_memory_gib
        assert have is None or o["host_memory_bytes"] <= have.value * 2**30
    short = [n for n in d["notes"] if "host memory per node" in n]
    assert short, d["notes"]
    name = short[0].split()[2]
    need = d["options"] and cat.offering(name).host_memory_gib.value
    assert need and f"its {need:g} GiB" in short[0]
