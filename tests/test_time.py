"""The step-time model: formulas it is built from and invariants it keeps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from advisor.catalog import load_catalog
from advisor.layout import TIE_TOLERANCE
from advisor.model.device import device_model
from advisor.model.presets import preset
from advisor.model.spec import TrainingSpec
from advisor.model.time import Plans, collective_time, step_time
from advisor.search import enumerate_plans, score, simplicity_key


@pytest.fixture(scope="module")
def dev():
    cat = load_catalog()
    acc = cat.accelerator("a100-sxm4-80gb")
    dev = device_model(cat, acc, cat.profile_for(acc.id), None, 8, node_bandwidth_gbs=200)
    # The analytic model's arithmetic, without the fitted stack factor (test_crossval.py).
    return dataclasses.replace(dev, time_factor=1.0)


def test_nccl_tests_bus_bandwidth_factors() -> None:
    # nccl-tests doc/PERFORMANCE.md: busbw = algbw x 2(n-1)/n (all-reduce), (n-1)/n (AG, RS).
    s, bw = 1e9, 100e9
    assert collective_time("all_reduce", s, 8, bw, 0.0) == pytest.approx(s / bw * 2 * 7 / 8)
    assert collective_time("all_gather", s, 8, bw, 0.0) == pytest.approx(s / bw * 7 / 8)
    assert collective_time("reduce_scatter", s, 4, bw, 1e-5) == pytest.approx(1e-5 + s / bw * 3 / 4)
    assert collective_time("all_reduce", s, 1, bw, 1e-5) == 0.0


def test_breakdown_adds_up_and_is_positive(dev) -> None:
    spec = preset("gpt3-175b")
    plans = enumerate_plans(spec, [64, 512], 8, 3.2e6)
    st = step_time(spec, plans, dev, "bf16")
    parts = (
        st.compute
        + st.memory_bound
        + st.tp_comm
        + st.pp_bubble
        + st.pp_comm
        + st.dp_comm_exposed
        + st.optimizer
        + st.cp_comm
    )
    assert np.allclose(parts, st.total)
    assert np.all(np.isfinite(st.total)) and np.all(st.total > 0)


def test_pipeline_bubble_fraction(dev) -> None:
    # Narayanan et al. 2021 §2.2: bubble = (p-1)/(v·m) of the ideal time.
    spec = preset("gpt3-175b")
    p, m = 8, 64
    for v in (1, 3):
        plans = Plans.of(dp=1, tp=8, pp=p, vpp=v, sp=1, zero=0, mb=1, m=m, rec=1)
        st = step_time(spec, plans, dev, "bf16")
        ideal = st.compute + st.memory_bound + st.tp_comm
        assert st.pp_bubble[0] / ideal[0] == pytest.approx((p - 1) / (v * m))


def test_no_communication_without_parallelism(dev) -> None:
    spec = preset("gpt3-1.3b")
    st = step_time(
        spec, Plans.of(dp=1, tp=1, pp=1, vpp=1, sp=0, zero=0, mb=4, m=8, rec=0), dev, "bf16"
    )
    assert st.tp_comm[0] == st.pp_comm[0] == st.dp_comm_exposed[0] == st.pp_bubble[0] == 0.0


def test_tensor_parallel_adds_communication_and_divides_compute(dev) -> None:
    spec = preset("gpt3-13b")
    one = step_time(
        spec, Plans.of(dp=1, tp=1, pp=1, vpp=1, sp=0, zero=0, mb=1, m=8, rec=0), dev, "bf16"
    )
    eight = step_time(
        spec, Plans.of(dp=1, tp=8, pp=1, vpp=1, sp=1, zero=0, mb=1, m=8, rec=0), dev, "bf16"
    )
    assert eight.tp_comm[0] > 0
    assert eight.compute[0] < one.compute[0] / 4


def test_full_recompute_costs_about_a_forward(dev) -> None:
    spec = preset("gpt3-13b")
    base = dict(dp=1, tp=8, pp=1, vpp=1, sp=1, zero=0, mb=1, m=8)
    none = step_time(spec, Plans.of(**base, rec=0), dev, "bf16")
    full = step_time(spec, Plans.of(**base, rec=2), dev, "bf16")
    ratio = full.compute[0] / none.compute[0]
    assert 1.25 < ratio < 1.40  # one more forward: 4/3 of the matmul work


def test_dp_communication_overlaps_backward(dev) -> None:
    spec = preset("gpt3-1.3b")
    plans = Plans.of(dp=64, tp=1, pp=1, vpp=1, sp=0, zero=0, mb=4, m=4, rec=0)
    overlapped = step_time(spec, plans, dev, "bf16", dp_overlap=True)
    exposed = step_time(spec, plans, dev, "bf16", dp_overlap=False)
    assert overlapped.dp_comm_exposed[0] < exposed.dp_comm_exposed[0]
    assert exposed.dp_comm_exposed[0] == pytest.approx(exposed.dp_comm_total[0])


def test_zero3_communicates_every_micro_batch(dev) -> None:
    spec = preset("gpt3-13b")
    few = step_time(
        spec, Plans.of(dp=64, tp=1, pp=1, vpp=1, sp=0, zero=3, mb=1, m=2, rec=2), dev, "bf16"
    )
    many = step_time(
        spec, Plans.of(dp=64, tp=1, pp=1, vpp=1, sp=0, zero=3, mb=1, m=8, rec=2), dev, "bf16"
    )
    assert many.dp_comm_total[0] == pytest.approx(4 * few.dp_comm_total[0])


def test_search_best_is_the_simplest_plan_tied_with_the_fastest(dev) -> None:
    spec = preset("llama-2-7b")
    plans = enumerate_plans(spec, [16], 8, 4e6)
    sc = score(spec, TrainingSpec(), plans, dev, 80e9, 2**30)
    per_token = sc.step_time / sc.tokens_per_step
    fastest = sc.best(tolerance=0.0)
    assert fastest is not None and sc.fits[fastest]
    assert np.all(per_token[sc.fits] >= per_token[fastest] - 1e-15)
    i = sc.best()
    assert i is not None and sc.fits[i]
    assert per_token[i] <= per_token[fastest] * (1 + TIE_TOLERANCE)
    tied = np.flatnonzero(sc.fits & (per_token <= per_token[fastest] * (1 + TIE_TOLERANCE)))
    p = plans
    keys = simplicity_key(p.zero, p.tp, p.pp, p.vpp, p.mb, p.rec)
    assert keys[i] == keys[tied].min()


# --- What a device's own calibration adds (used only where a profile gives it) -------------


def _with(dev, **kw):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(dev, **kw)


def test_gpu_profiles_carry_no_calibration_extras(dev) -> None:
    assert dev.attention == {} and dev.vector_rates == {} and dev.kernel_overhead == 0.0
    assert dev.optimizer_tensor_overhead == 0.0 and dev.first_touch_bandwidth == 0.0


def test_vector_ops_are_the_slower_of_bytes_and_arithmetic(dev) -> None:
    from advisor.model.op_time import op_time as _op_time
    from advisor.model.ops import block_ops

    spec = preset("gpt3-1.3b")
    norm = next(op for op in block_ops(spec, b=4.0) if op.name == "norm_attn")
    tp = np.array([1.0])
    bytes_only = float(_op_time(norm, dev, "bf16", tp)[1][0])
    slow = _with(dev, vector_rates={"bf16": {"norm": 1e9}}, kernel_overhead=1e-5)
    t = float(_op_time(norm, slow, "bf16", tp)[1][0])
    assert t == pytest.approx(max(bytes_only, norm.elements / 1e9) + 1e-5)
    fast = _with(dev, vector_rates={"bf16": {"norm": 1e18}})
    assert float(_op_time(norm, fast, "bf16", tp)[1][0]) == pytest.approx(bytes_only)


def test_kernel_overhead_adds_a_fixed_time_per_operator(dev) -> None:
    spec = preset("gpt3-1.3b")
    plans = Plans.of(dp=1, tp=1, pp=1, vpp=1, sp=0, zero=0, mb=1, m=1, rec=0)
    base = step_time(spec, plans, dev, "bf16").total[0]
    one = step_time(spec, plans, _with(dev, kernel_overhead=1e-3), "bf16").total[0]
    two = step_time(spec, plans, _with(dev, kernel_overhead=2e-3), "bf16").total[0]
    ops = (one - base) / 1e-3
    assert two - base == pytest.approx(2 * (one - base))
    # Per block 12 forward kernels (4 matmuls, 3 attention-core ops, 5 vector ops), each
    # run three times (forward and two backward) plus flash attention's backward rerun of
    # half the core's two matmuls; the head's 3 ops, 7 times in all (matmul 3x, vector 2x).
    assert ops == pytest.approx(spec.layers * (3 * 12 + 1) + 7, rel=1e-9)


def test_measured_attention_replaces_the_core_roofline(dev) -> None:
    from advisor.model.device import EfficiencyCurve

    spec = preset("gpt3-1.3b")
    plans = Plans.of(dp=1, tp=1, pp=1, vpp=1, sp=0, zero=0, mb=1, m=1, rec=0)

    def compute(e: float) -> float:
        curves = {"attention": {"bf16": EfficiencyCurve(e)},
                  "attention_backward": {"bf16": EfficiencyCurve(e)}}  # fmt: skip
        return float(step_time(spec, plans, _with(dev, **curves), "bf16").compute[0])

    core = 4.0 * spec.seq_len**2 * spec.hidden * 0.5  # causal forward FLOPs, one sequence
    # Forward F at efficiency e, backward 2F: halving e adds 3F / (peak x e) per layer.
    expected = spec.layers * 3 * core / (dev.peak("bf16") * 0.5)
    assert compute(0.25) - compute(0.5) == pytest.approx(expected, rel=1e-9)


def test_autocast_adds_casts_and_keeps_fp32_state(dev) -> None:
    spec = preset("gpt3-1.3b")
    plans = Plans.of(dp=8, tp=1, pp=1, vpp=1, sp=0, zero=0, mb=1, m=1, rec=0)
    plain = step_time(spec, plans, dev, "bf16")
    amp = step_time(spec, plans, dev, "bf16", autocast=True)
    assert amp.memory_bound[0] > plain.memory_bound[0]  # casts, fp32 norms and residuals
    assert amp.compute[0] == pytest.approx(plain.compute[0])  # the matmuls are the same
    assert amp.dp_comm_total[0] == pytest.approx(2 * plain.dp_comm_total[0])  # fp32 gradients
    fp32 = step_time(spec, plans, dev, "fp32", autocast=True)
    assert fp32.total[0] == pytest.approx(step_time(spec, plans, dev, "fp32").total[0])


def test_first_touch_costs_only_tensors_the_allocator_maps_fresh(dev) -> None:
    spec = preset("gpt3-1.3b")
    plans = Plans.of(dp=1, tp=1, pp=1, vpp=1, sp=0, zero=0, mb=4, m=1, rec=0)
    base = step_time(spec, plans, dev, "bf16").total[0]
    never = _with(dev, first_touch_bandwidth=1e9, first_touch_min_bytes=1e15)
    assert step_time(spec, plans, never, "bf16").total[0] == pytest.approx(base)
    logits = _with(dev, first_touch_bandwidth=1e9, first_touch_min_bytes=2.0 * 4 * 2048 * 50000)
    extra = step_time(spec, plans, logits, "bf16").total[0] - base
    v = 4 * 2048 * spec.vocab  # tokens x vocab: only the logit tensors are that large
    assert extra == pytest.approx((2 * 2 * v + 4 * 2 * v) / 1e9)


def test_training_efficiency_divides_the_operators_time(dev) -> None:
    spec = preset("gpt3-1.3b")
    plans = Plans.of(dp=1, tp=1, pp=1, vpp=1, sp=0, zero=0, mb=1, m=1, rec=0)
    base = step_time(spec, plans, dev, "bf16")
    half = step_time(spec, plans, _with(dev, training_efficiency=0.5), "bf16")
    assert half.compute[0] == pytest.approx(2 * base.compute[0])
    assert half.memory_bound[0] == pytest.approx(2 * base.memory_bound[0])
    assert half.optimizer[0] == pytest.approx(base.optimizer[0])  # measured on its own
