"""Chip-link domains larger than a board: NVL72 racks (DP across racks over the scale-out
network) and TPU slices as one ICI domain (DCN between slices)."""

from __future__ import annotations

import json

from advisor.catalog import load_catalog
from advisor.hardware import domain_size, resolve_hardware


def test_256_gb200_are_four_nvlink_domains_of_64() -> None:
    hw = resolve_hardware(load_catalog(), "gb200", 256, None, None)
    assert hw.devices_per_node == 64 and hw.nodes == 4
    # the scale-out network is the part's own per-GPU figure x the domain
    acc = load_catalog().accelerator("gb200")
    assert acc.scale_out_bandwidth_gbs is not None
    assert hw.node_network_gbs == acc.scale_out_bandwidth_gbs.value * 64
    assert "4 such domains" in (hw.domain_note or "")


def test_domain_size_splits_evenly() -> None:
    assert domain_size(256, 72) == 64
    assert domain_size(144, 72) == 72
    assert domain_size(8192, 6144) == 4096


def test_gb300_racks_run_tensor_parallel_inside_and_data_parallel_across(cli) -> None:
    r = cli(
        "estimate", "--model", "llama-3-70b", "--accelerator", "gb300", "--count", "128",
        "--tp", "16", "--pp", "1", "--cp", "1", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["hardware"]["devices_per_node"] == 64 and d["hardware"]["nodes"] == 2
    assert d["plan"]["tp"] == 16  # larger than an 8-GPU board: inside the NVLink domain


def test_a_tpu_slice_is_one_ici_domain(cli) -> None:
    r = cli(
        "estimate", "--model", "llama-3-70b", "--accelerator", "tpu-v5p", "--count", "512",
        "--tp", "16", "--pp", "1", "--cp", "1", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["hardware"]["devices_per_node"] == 512
    assert any("chip-link domain" in a for a in d["assumptions"])
