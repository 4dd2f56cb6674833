"""Which plan the search picks: memory headroom and the simpler of near-tied plans
(issue 9 item 12)."""

from __future__ import annotations

import json
import re

import numpy as np

from advisor.layout import DEFAULT_MEMORY_HEADROOM, TIE_TOLERANCE
from advisor.search import simplicity_key
from tests.conftest import assert_user_error

SMALL = ["estimate", "--params", "1.3B", "--accelerator", "a100-sxm4-80gb", "--count", "8"]


def _json(cli, *args):
    r = cli(*args)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_simplicity_key_orders_zero_then_dimensions_then_micro_batch_then_recompute() -> None:
    # zero, tp, pp, vpp, mb, rec: each row is simpler than the next.
    rows = np.array(
        [
            [0, 1, 1, 1, 1, 0],
            [0, 1, 1, 1, 1, 2],  # more recomputation
            [0, 1, 1, 1, 2, 0],  # larger micro-batch outweighs recomputation
            [0, 2, 1, 1, 1, 0],  # one parallel dimension outweighs micro-batch
            [0, 2, 2, 1, 32, 2],
            [0, 2, 2, 2, 1, 0],  # three dimensions
            [1, 1, 1, 1, 1, 0],  # a ZeRO stage outweighs every dimension
            [3, 1, 1, 1, 1, 0],
        ]
    )
    keys = simplicity_key(*rows.T)
    assert np.all(np.diff(keys) > 0)


def test_estimate_leaves_headroom_and_prefers_the_simpler_plan(cli) -> None:
    # Issue 9 item 12: it chose ZeRO-3, micro-batch 16 with 69.7 of 74.5 GiB in activations.
    d = _json(cli, *SMALL, "--json")
    cap = d["memory_capacity_bytes"]
    assert d["memory_per_device_bytes"]["total"] <= cap * (1 - DEFAULT_MEMORY_HEADROOM)
    assert d["plan"]["zero"] < 3
    notes = " ".join(d["assumptions"])
    assert f"leave {DEFAULT_MEMORY_HEADROOM:.0%} of device memory free" in notes
    m = re.search(r"preferred a simpler layout to the fastest \(.*?\), ([\d.]+)% slower", notes)
    assert m is not None and float(m.group(1)) <= 100 * TIE_TOLERANCE


def test_headroom_is_an_option_and_zero_may_fill_the_device(cli) -> None:
    full = _json(cli, *SMALL, "--memory-headroom", "0", "--json")
    kept = _json(cli, *SMALL, "--memory-headroom", "0.3", "--json")
    cap = kept["memory_capacity_bytes"]
    assert kept["memory_per_device_bytes"]["total"] <= 0.7 * cap
    assert full["memory_per_device_bytes"]["total"] >= kept["memory_per_device_bytes"]["total"]
    assert_user_error(cli(*SMALL, "--memory-headroom", "1.5"), 2, "--memory-headroom")


def test_a_fixed_layout_is_scored_as_given_even_within_the_headroom(cli) -> None:
    fixed = ["--tp", "1", "--pp", "1", "--vpp", "1", "--no-sp", "--zero", "3"]
    fixed += ["--micro-batch", "16", "--recompute", "none"]
    d = _json(cli, *SMALL, *fixed, "--json")
    p = d["plan"]
    assert (p["tp"], p["pp"], p["vpp"], p["sp"], p["zero"]) == (1, 1, 1, False, 3)
    assert (p["micro_batch"], p["recompute"]) == (16, "none")
    assert d["fits"] is True
    cap = d["memory_capacity_bytes"]
    if d["memory_per_device_bytes"]["total"] > cap * (1 - DEFAULT_MEMORY_HEADROOM):
        assert any("no layout leaves" in a for a in d["assumptions"])


def test_recommended_plans_leave_the_headroom_free(cli) -> None:
    for headroom in (None, "0.25"):
        extra = ["--memory-headroom", headroom] if headroom else []
        d = _json(cli, "recommend", "--params", "1.3B", "--budget", "5000", *extra, "--json")
        h = float(headroom) if headroom else DEFAULT_MEMORY_HEADROOM
        assert d["query"]["memory_headroom"] == h
        assert d["options"]
        for o in d["options"]:
            cap = o["hardware"]["memory_per_device_bytes"]
            assert o["memory_per_device_bytes"]["total"] <= cap * (1 - h)
