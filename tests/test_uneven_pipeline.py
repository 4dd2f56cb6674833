"""Pipeline stages that do not divide the layers (Llama 3 405B: 126 layers on 16 stages):
ceil/floor stage sizes, the heaviest stage sets the time and the first stage's memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from advisor.model.parallel import stage_time
from advisor.model.presets import preset
from advisor.search import enumerate_plans

ACCEPT = [
    "estimate", "--model", "llama-3-405b", "--accelerator", "h100-sxm5-80gb", "--count", "8192",
    "--tp", "8", "--pp", "16", "--cp", "1", "--precision", "bf16", "--json",
]  # fmt: skip


def test_llama3_405b_on_16_stages_runs_and_shows_its_stages(cli) -> None:
    r = cli(*ACCEPT)
    assert r.code == 0, r.err
    plan = json.loads(r.out)["plan"]
    assert plan["pp"] == 16 and plan["dp"] == 64 and plan["cp"] == 1
    assert plan["stage_layers"] == [8] * 14 + [7] * 2
    assert sum(plan["stage_layers"]) == 126


def test_heaviest_stage_sets_the_micro_batch_time() -> None:
    block, head = 1.0, 0.5
    assert stage_time(126, 16, block, head) == max(8 * block, 7 * block + head)
    assert stage_time(126, 16, block, 3.0) == 7 * block + 3.0  # a heavy loss stage binds
    assert stage_time(128, 16, block, head) == 8 * block + head  # even: as before
    assert np.allclose(stage_time(32, np.array([1, 4]), block, head), [32.5, 8.5])


def test_first_stage_holds_ceil_layers(cli) -> None:
    def weights(layers: str) -> float:
        r = cli(
            "estimate", "--layers", layers, "--hidden", "4096", "--heads", "32", "--vocab",
            "32000", "--accelerator", "h100", "--count", "16", "--tp", "1", "--pp", "16",
            "--zero", "0", "--micro-batch", "1", "--recompute", "none", "--json",
        )  # fmt: skip
        assert r.code == 0, r.err
        return json.loads(r.out)["memory_per_device_bytes"]["weights"]

    # 126 layers on 16 stages: the first holds ceil(126/16) = 8, as 128 layers on 16 do
    assert weights("126") == pytest.approx(weights("128"))
    assert weights("112") < weights("126")  # 7 per stage


def test_search_tries_uneven_stage_counts() -> None:
    spec = preset("llama-3-405b")
    plans = enumerate_plans(spec, [1024], 8, 16e6)
    assert 16 in set(plans.pp.tolist())  # 126 % 16 != 0
