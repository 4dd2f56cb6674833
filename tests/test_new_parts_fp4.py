"""Parts the 2026 published runs name (GB300, MI350X) and FP4 training (--precision fp4)."""

from __future__ import annotations

import json

import pytest

from advisor.catalog import load_catalog
from tests.conftest import assert_user_error


@pytest.mark.parametrize("part", ["gb300", "mi350x"])
def test_new_parts_have_sourced_memory_bandwidth_and_fp4(part: str) -> None:
    cat = load_catalog()
    acc = cat.accelerator(part)
    for fig in (acc.memory_gb, acc.memory_bandwidth_gbs, acc.intra_node_bandwidth_gbs):
        assert fig is not None and fig.source and fig.as_of
    for dtype in ("bf16", "fp8", "fp4"):
        fig = acc.peak_tflops[dtype]
        assert fig.source and fig.as_of
    # FP4 is the fastest dense peak where it exists
    assert acc.peak_flops("fp4") > acc.peak_flops("fp8") > acc.peak_flops("bf16")


def test_gb300_is_an_nvl72_domain() -> None:
    acc = load_catalog().accelerator("GB300")
    assert acc.scale_up_devices is not None and acc.scale_up_devices.value == 72


def test_fp4_is_scored_at_the_fp4_peak(cli) -> None:
    base = ["estimate", "--model", "llama-3-70b", "--accelerator", "gb300", "--count", "72"]
    base += ["--tp", "4", "--pp", "1", "--global-batch-tokens", "4M", "--json"]
    r4 = cli(*base, "--precision", "fp4")
    assert r4.code == 0, r4.err
    r8 = cli(*base, "--precision", "fp8")
    d4, d8 = json.loads(r4.out), json.loads(r8.out)
    acc = load_catalog().accelerator("gb300")
    assert d4["flops"]["peak_per_device"] == acc.peak_flops("fp4")
    assert d4["mfu_peak_precision"] == "fp4"
    assert d4["plan"]["precision"] == "fp4"
    # faster matmuls, same model-state bytes as the fp8 convention
    assert d4["step_time_s"] < d8["step_time_s"]
    assert d4["memory_per_device_bytes"]["weights"] == d8["memory_per_device_bytes"]["weights"]


def test_fp4_on_a_part_without_an_fp4_peak_names_the_part(cli) -> None:
    r = cli(
        "estimate", "--model", "llama-2-7b", "--accelerator", "h100", "--count", "8",
        "--precision", "fp4",
    )  # fmt: skip
    assert_user_error(r, 2, "h100-sxm5-80gb", "no fp4 peak", "--precision fp8")
