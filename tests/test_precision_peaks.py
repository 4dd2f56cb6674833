"""A precision the part has no sourced peak for is refused, never scored at another's peak."""

from __future__ import annotations

import json

import pytest

from advisor.catalog import load_catalog
from tests.conftest import assert_user_error

LLAMA = ["estimate", "--model", "llama-2-7b", "--count", "8"]


@pytest.mark.parametrize("part", ["v100-sxm2-32gb", "v100-sxm2-16gb", "t4"])
def test_bf16_on_parts_without_bf16_is_a_usage_error(cli, part: str) -> None:
    assert "bf16" not in load_catalog().accelerator(part).peak_tflops
    r = cli(*LLAMA, "--accelerator", part, "--precision", "bf16")
    assert_user_error(r, 2, part, "no bf16 peak", "--precision fp16")


def test_fp16_on_v100_is_scored_at_the_fp16_peak(cli) -> None:
    r = cli(*LLAMA, "--accelerator", "v100-sxm2-32gb", "--precision", "fp16", "--json")
    assert r.code == 0, r.err
    fp16 = load_catalog().accelerator("v100-sxm2-32gb").peak_flops("fp16")
    assert json.loads(r.out)["flops"]["peak_per_device"] == fp16


def test_recommend_drops_parts_without_the_precision(cli) -> None:
    args = ["recommend", "--params", "1.3B", "--budget", "5000", "--precision", "bf16"]
    r = cli(*args, "--accelerators", "v100-sxm2-32gb,t4")
    assert_user_error(r, 2, "bf16", "t4", "v100-sxm2-32gb", "--precision")
    r = cli(*args, "--accelerators", "t4,a100-sxm4-80gb", "--json")
    assert r.code == 0, r.err
    parts = {o["hardware"]["accelerator"] for o in json.loads(r.out)["options"]}
    assert parts and "t4" not in parts
