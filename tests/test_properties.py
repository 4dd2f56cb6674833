"""Property tests (hypothesis) for the model's invariants."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from advisor.catalog import load_catalog
from advisor.layout import DEFAULT_MEMORY_HEADROOM, TIE_TOLERANCE
from advisor.model.device import device_model
from advisor.model.memory import activation_memory, model_state_memory
from advisor.model.spec import ModelSpec, ParallelPlan, TrainingSpec
from advisor.search import enumerate_plans, score, simplicity_key
from advisor.units import parse_duration, parse_money, parse_size

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIX = {"": 1.0, "k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


@st.composite
def shapes(draw):
    heads = draw(st.sampled_from([4, 8, 16, 32]))
    head_dim = draw(st.sampled_from([32, 64, 128]))
    kv = draw(st.sampled_from([h for h in (1, 2, 4, 8, heads) if heads % h == 0]))
    return ModelSpec(
        layers=draw(st.sampled_from([2, 4, 8, 12, 24])),
        hidden=heads * head_dim,
        heads=heads,
        kv_heads=kv,
        mlp=draw(st.sampled_from(["gelu", "swiglu"])),
        vocab=draw(st.integers(1000, 130_000)),
        seq_len=draw(st.sampled_from([256, 1024, 2048, 4096])),
        dropout=draw(st.booleans()),
    )


@FAST
@given(st.floats(0.001, 9999, allow_nan=False), st.sampled_from(list(SUFFIX)))
def test_size_parsing_round_trips(v, suffix) -> None:
    text = f"{v:.6g}{suffix}"
    assert parse_size(text) == pytest.approx(float(f"{v:.6g}") * SUFFIX[suffix], rel=1e-12)


@FAST
@given(st.floats(0.01, 1e9, allow_nan=False))
def test_money_parsing_round_trips(v) -> None:
    assert parse_money(f"${v:,.2f}") == pytest.approx(round(v, 2), rel=1e-9)


@FAST
@given(st.floats(0.01, 1e4, allow_nan=False), st.sampled_from(["s", "m", "h", "d"]))
def test_duration_parsing(v, unit) -> None:
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert parse_duration(f"{v:.4g}{unit}") == pytest.approx(float(f"{v:.4g}") * scale)


@FAST
@given(
    shapes(),
    st.sampled_from([1, 2, 4, 8, 64]),
    st.sampled_from(["advisor", "deepspeed", "megatron"]),
)
def test_memory_never_rises_with_zero_stage_or_dp(spec, dp, convention) -> None:
    tr = TrainingSpec(convention=convention)
    totals = [
        float(np.asarray(model_state_memory(spec, ParallelPlan(dp=dp, zero=z), tr).total))
        for z in range(4)
    ]
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(totals))
    for z in range(4):
        small = model_state_memory(spec, ParallelPlan(dp=dp, zero=z), tr)
        big = model_state_memory(spec, ParallelPlan(dp=dp * 2, zero=z), tr)
        assert float(np.asarray(big.total)) <= float(np.asarray(small.total)) + 1e-6


@FAST
@given(shapes(), st.sampled_from(["none", "selective", "full"]), st.sampled_from([1, 2, 8]))
def test_activations_rise_with_micro_batch_and_sequence(spec, rec, tp) -> None:
    assume(spec.heads % tp == 0)
    tr = TrainingSpec(recompute=rec)
    plan = ParallelPlan(tp=tp, sp=tp > 1, micro_batch=1)
    base = float(activation_memory(spec, plan, tr))
    more_b = float(activation_memory(spec, plan.model_copy(update={"micro_batch": 2}), tr))
    longer = spec.model_copy(update={"seq_len": spec.seq_len * 2})
    more_s = float(activation_memory(longer, plan, tr))
    assert more_b > base and more_s > base


@FAST
@given(
    shapes(),
    st.sampled_from([1, 8, 64]),
    st.sampled_from(["advisor", "megatron", "amp"]),
    st.sampled_from(["bf16", "fp32"]),
    st.booleans(),
)
def test_recomputation_never_holds_more_than_storing(spec, n, convention, precision, flash) -> None:
    # Issue 9 item 2: full <= selective <= none for every plan the search can propose,
    # with flash attention on and off (with it, selective stores what none does).
    longer = spec.model_copy(update={"seq_len": spec.seq_len * 32})  # long context too
    for s in (spec, longer):
        plans = enumerate_plans(s, [n], 8, 4e6, flash_attention=False)
        tr = TrainingSpec(convention=convention, precision=precision)
        full, sel, none = (
            activation_memory(s, plans, tr, rec=np.full(len(plans), c), flash_attention=flash)
            for c in (2, 1, 0)
        )
        assert np.all(full <= sel * (1 + 1e-12))
        assert np.all(sel <= none * (1 + 1e-12))
        if flash:
            assert np.array_equal(sel, none)


@FAST
@given(shapes(), st.sampled_from([8, 16, 64]), st.floats(1e5, 8e6))
def test_every_accepted_plan_has_finite_positive_time_and_best_is_never_beaten(
    spec, n, batch
) -> None:
    cat = load_catalog()
    acc = cat.accelerator("h100-sxm5-80gb")
    d = device_model(cat, acc, cat.profile_for(acc.id), cat.offering("aws-p5.48xlarge"), 8, 400)
    plans = enumerate_plans(spec, [n], 8, batch)
    assume(len(plans) > 0)
    sc = score(spec, TrainingSpec(), plans, d, 80e9, 2**30, headroom=DEFAULT_MEMORY_HEADROOM)
    for arr in (sc.step_time, sc.memory_total, sc.tokens_per_s, sc.mfu, sc.hfu):
        assert np.all(np.isfinite(arr))
    assert np.all(sc.step_time > 0)
    i = sc.best()
    if i is not None:
        # Leaves the headroom free, is never beaten by more than the tie tolerance, and
        # no tied plan is simpler.
        assert sc.memory_total[i] <= 80e9 * (1 - DEFAULT_MEMORY_HEADROOM)
        per_token = sc.step_time / sc.tokens_per_step
        roomy = np.flatnonzero(sc.memory_total <= 80e9 * (1 - DEFAULT_MEMORY_HEADROOM))
        assert np.all(per_token[i] <= per_token[roomy] * (1 + TIE_TOLERANCE) + 1e-15)
        tied = roomy[per_token[roomy] <= per_token[roomy].min() * (1 + TIE_TOLERANCE)]
        p = plans
        keys = simplicity_key(p.zero, p.tp, p.pp, p.vpp, p.mb, p.rec)
        assert keys[i] == keys[tied].min()


def _finite(obj) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite(v) for v in obj)
    return True


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["125M", "350M", "1.3B", "7B"]),
    st.sampled_from(["500", "5k", "50k"]),
    st.sampled_from(["on-demand", "spot"]),
)
def test_recommend_output_is_finite_and_cost_is_price_x_time(cli, params, budget, pricing) -> None:
    r = cli(
        "recommend",
        "--params",
        params,
        "--budget",
        budget,
        "--pricing",
        pricing,
        "--json",
        "--top",
        "5",
    )
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert _finite(d)
    for o in d["options"]:
        held = (o["nodes"] + o["goodput"]["spare_nodes"]) / o["nodes"]  # spares are billed
        assert o["cost_usd"] == pytest.approx(o["price_per_hour_usd"] * o["billed_hours"] * held)
        assert o["billed_hours"] >= o["wall_time_s"] / 3600 - 1e-9 >= o["time_to_train_s"] / 3600
        assert o["price_per_hour_usd"] == pytest.approx(
            load_catalog().offering(o["offering"]).price_per_hour(pricing) * o["nodes"]
        )
