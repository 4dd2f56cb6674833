"""Memory per device against the published formulas it implements, for the same assumptions."""

from __future__ import annotations

import math

import pytest

from advisor.model.memory import (
    activation_bytes_per_layer,
    activation_memory,
    memory_report,
    model_state_memory,
)
from advisor.model.params import count_params
from advisor.model.presets import preset
from advisor.model.spec import ModelSpec, ParallelPlan, TrainingSpec


def gpt(layers=96, hidden=12288, heads=96, vocab=51200, seq=2048, **kw) -> ModelSpec:
    """A Megatron GPT as Korthikanti and Megatron's report model it: 4h MLP, dropout,
    LayerNorm with bias, no linear biases or position table in the parameter count."""
    return ModelSpec(
        layers=layers,
        hidden=hidden,
        heads=heads,
        vocab=vocab,
        seq_len=seq,
        mlp="gelu",
        norm="layernorm",
        dropout=True,
        position="rope",
        **kw,
    )


# --- Korthikanti et al. 2022, Table 2: activation bytes per layer -------------------------

S, B, H, A, T = 2048, 1, 12288, 96, 8
SBH = S * B * H


@pytest.mark.parametrize(
    ("t", "sp", "recompute", "expected"),
    [
        (1, False, "none", SBH * (34 + 5 * A * S / H)),  # no parallelism
        (T, False, "none", SBH * (10 + 24 / T + 5 * A * S / (H * T))),  # tensor parallel
        (T, True, "none", SBH * (34 / T + 5 * A * S / (H * T))),  # TP + sequence parallel
        (T, False, "selective", SBH * (10 + 24 / T)),  # TP + selective recompute
        (T, True, "selective", SBH * 34 / T),  # TP + SP + selective
        (1, False, "full", SBH * 2),  # full recompute
    ],
)
def test_korthikanti_table2(t, sp, recompute, expected) -> None:
    got = activation_bytes_per_layer(gpt(), B, t, sp, recompute, elem=2)
    assert got == pytest.approx(expected, rel=1e-12)


def test_first_stage_175b_holds_34sbhL_over_t() -> None:
    # Acceptance: GPT-3 175B, tp 8, pp 8, SP + selective: ~34·s·b·h·L/t on the first stage.
    spec = preset("gpt3-175b")
    plan = ParallelPlan(dp=1, tp=8, pp=8, sp=True, micro_batch=1, grad_accum=64)
    act = activation_memory(spec, plan, TrainingSpec(recompute="selective"))
    expected = 34 * spec.seq_len * 1 * spec.hidden * spec.layers / 8
    assert act == pytest.approx(expected, rel=0.02)


def test_interleaved_schedule_holds_more() -> None:
    spec = gpt()
    base = ParallelPlan(dp=1, tp=8, pp=8, sp=True, grad_accum=64)
    inter = base.model_copy(update={"vpp": 3})
    tr = TrainingSpec(recompute="selective")
    ratio = activation_memory(spec, inter, tr) / activation_memory(spec, base, tr)
    assert ratio == pytest.approx(1 + 7 / 24, rel=0.01)  # 1 + (p-1)/(p·v)


def test_1f1b_with_fewer_microbatches_than_stages() -> None:
    spec = gpt()
    tr = TrainingSpec(recompute="selective")
    few = ParallelPlan(tp=8, pp=8, sp=True, grad_accum=2)
    many = few.model_copy(update={"grad_accum": 64})
    per_layer = activation_bytes_per_layer(spec, 1, 8, True, "selective")
    diff = activation_memory(spec, many, tr) - activation_memory(spec, few, tr)
    assert diff == pytest.approx(per_layer * 12 * 6, rel=0.01)  # 6 more micro-batches x L/p


# --- DeepSpeed model-state estimators ------------------------------------------------------
# deepspeed/runtime/zero/stage_1_and_2.py estimate_zero2_model_states_mem_needs and
# stage3.py estimate_zero3_model_states_mem_needs, without CPU offload:
#   ZeRO-2: gpu = 4·N + int(16·N / gpus)
#   ZeRO-3: gpu = 4·largest_layer + int(18·N / gpus)


def ds_zero2(n: int, gpus: int) -> int:
    return 4 * n + int(16 * n / gpus)


def ds_zero3(n: int, largest: int, gpus: int) -> int:
    return 4 * largest + int(18 * n / gpus)


@pytest.mark.parametrize("name", ["gpt2-xl", "llama-2-7b", "llama-2-70b"])
@pytest.mark.parametrize("gpus", [1, 8, 64])
def test_deepspeed_zero2_estimator(name: str, gpus: int) -> None:
    spec = preset(name)
    n = count_params(spec).total
    st = model_state_memory(
        spec, ParallelPlan(dp=gpus, zero=2), TrainingSpec(convention="deepspeed")
    )
    assert st.total + st.gathered == pytest.approx(ds_zero2(n, gpus), abs=1)


@pytest.mark.parametrize("name", ["gpt2-xl", "llama-2-7b", "llama-2-70b"])
@pytest.mark.parametrize("gpus", [8, 64])
def test_deepspeed_zero3_estimator(name: str, gpus: int) -> None:
    spec = preset(name)
    c = count_params(spec)
    st = model_state_memory(
        spec, ParallelPlan(dp=gpus, zero=3), TrainingSpec(convention="deepspeed")
    )
    assert st.total + st.gathered == pytest.approx(ds_zero3(c.total, c.largest_module, gpus), abs=1)


# --- Megatron-LM theoretical memory report -------------------------------------------------
# megatron/training/theoretical_memory_usage.py, transcribed for MHA GPT models.


def megatron_weight_and_optimizer(
    spec: ModelSpec, tp: int, pp: int, dp: int, dist_opt: bool
) -> float:
    l, h, f, v = spec.layers, spec.hidden, spec.ffn, spec.vocab
    transformer = 2 * l * h * h * (2 + f / h + 2 / h + 1 / (l * h))
    embedding = h * v
    most_loaded = (transformer / pp + embedding) / tp
    if not spec.tied_embeddings and pp == 1:
        most_loaded += embedding / tp
    per_param = 18 if not dist_opt else 6 + 12 / dp
    return most_loaded * per_param


def megatron_activation(
    spec: ModelSpec, b: int, tp: int, pp: int, vpp: int | None, m: int
) -> float:
    s, h, f, v, l = spec.seq_len, spec.hidden, spec.ffn, spec.vocab, spec.layers
    act = s * b * h * (18 + 4 * f / h) * l
    act += 8 * s * b * pp + s * b * h * pp
    if vpp is not None:
        act *= 1 + (pp - 1) / (pp * vpp)
    elif pp > 1:
        act *= min(1, m / pp)
    if pp == 1:
        act += s * b * h * 4 * (1 + v / h)
    return act / tp


@pytest.mark.parametrize(
    ("tp", "pp", "vpp", "dp", "m", "dist"),
    [
        (8, 8, None, 1, 64, False),
        (8, 8, 3, 4, 32, True),
        (4, 1, None, 16, 4, True),
        (1, 1, None, 8, 1, False),
    ],
)
def test_megatron_theoretical_memory(tp, pp, vpp, dp, m, dist) -> None:
    spec = gpt(tied_embeddings=False)
    plan = ParallelPlan(
        dp=dp,
        tp=tp,
        pp=pp,
        vpp=vpp or 1,
        sp=True,
        zero=1 if dist else 0,
        micro_batch=1,
        grad_accum=m,
    )
    tr = TrainingSpec(convention="megatron", recompute="selective")
    st = model_state_memory(spec, plan, tr)
    # Megatron counts the final norm on every stage (2h/pp); we put it on the last only.
    assert st.total == pytest.approx(
        megatron_weight_and_optimizer(spec, tp, pp, dp, dist), rel=1e-6
    )
    assert activation_memory(spec, plan, tr) == pytest.approx(
        megatron_activation(spec, 1, tp, pp, vpp, m), rel=1e-12
    )


# --- States by precision and optimizer -----------------------------------------------------


@pytest.mark.parametrize(
    ("precision", "optimizer", "per_param"),
    [
        ("bf16", "adamw", 16.0),  # 2 + 2 + (4 master + 8 moments)
        ("fp32", "adamw", 16.0),  # 4 + 4 + 8
        ("bf16", "sgd", 12.0),  # 2 + 2 + 4 + 4
        ("fp32", "sgd", 12.0),
        ("bf16", "adam8bit", 10.0 + 8 / 2048),  # 2 + 2 + 4 + 2 + block absmax
    ],
)
def test_state_bytes_per_parameter(precision, optimizer, per_param) -> None:
    spec = preset("llama-2-7b")
    st = model_state_memory(
        spec, ParallelPlan(), TrainingSpec(precision=precision, optimizer=optimizer)
    )
    assert st.total / count_params(spec).total == pytest.approx(per_param)


def test_adafactor_state_is_factored() -> None:
    spec = preset("llama-2-7b")
    st = model_state_memory(spec, ParallelPlan(), TrainingSpec(optimizer="adafactor"))
    per_param = st.total / count_params(spec).total
    # 2 + 2 + 4 master + a factored second moment far below one fp32 per parameter.
    assert 8.0 < per_param < 8.01


@pytest.mark.parametrize("zero", [0, 1, 2, 3])
def test_zero_stages_shard_by_dp(zero) -> None:
    spec = preset("llama-2-7b")
    n = count_params(spec).total
    st = model_state_memory(spec, ParallelPlan(dp=8, zero=zero), TrainingSpec())
    expected = {0: 16, 1: 4 + 12 / 8, 2: 2 + 14 / 8, 3: 16 / 8}[zero]
    assert st.total / n == pytest.approx(expected)


def test_seventy_b_on_one_a100_does_not_fit() -> None:
    spec = preset("llama-3-70b")
    rep = memory_report(spec, ParallelPlan(), TrainingSpec(recompute="full"), 80e9, 2**30)
    assert rep.fits is False
    assert rep.total > 16 * 70e9


def test_activations_scale_with_micro_batch_and_fp32() -> None:
    spec = preset("gpt3-1.3b")
    one = activation_bytes_per_layer(spec, 1, 1, False, "none", 2)
    assert activation_bytes_per_layer(spec, 4, 1, False, "none", 2) == pytest.approx(4 * one)
    fp32 = activation_bytes_per_layer(spec, 1, 1, False, "none", 4)
    assert one < fp32 < 2 * one  # 1-byte dropout masks do not double
    assert math.isfinite(fp32)


# --- PyTorch autocast (amp) and the unfused loss ---------------------------------------------


def test_amp_states_are_fp32_with_a_weight_cast_cache() -> None:
    spec = preset("llama-2-7b")
    c = count_params(spec)
    amp = model_state_memory(spec, ParallelPlan(), TrainingSpec(precision="bf16", convention="amp"))
    cast = c.layers * (c.attention + c.mlp_expert) + c.vocab_hidden  # what linear layers use
    assert amp.weights == pytest.approx(4 * c.total + 2 * cast)
    assert amp.gradients == pytest.approx(4 * c.total)
    assert amp.optimizer == pytest.approx(8 * c.total)  # moments only: the weights are the master
    fp32 = model_state_memory(
        spec, ParallelPlan(), TrainingSpec(precision="fp32", convention="amp")
    )
    assert fp32.total == pytest.approx(16 * c.total)  # no autocast, no casts


def test_amp_keeps_the_residual_stream_in_fp32() -> None:
    spec = gpt()  # dropout masks are 1 byte either way
    bf16 = activation_bytes_per_layer(spec, 1, 1, False, "selective", 2)
    amp = activation_bytes_per_layer(spec, 1, 1, False, "selective", 2, residual_elem=4)
    assert amp - bf16 == pytest.approx(2 * 2 * S * H)  # two norm inputs, 2 more bytes each


def test_unfused_loss_holds_three_fp32_logit_tensors() -> None:
    spec = gpt(tied_embeddings=True)
    plan = ParallelPlan(micro_batch=2)
    tr = TrainingSpec(precision="bf16", recompute="selective")
    mega = activation_memory(spec, plan, tr.model_copy(update={"convention": "megatron"}))
    torch_loss = activation_memory(spec, plan, tr)
    sbv = S * 2 * spec.vocab
    # Megatron: 4·s·b·h·(1 + V/h); PyTorch: final-norm and output-layer inputs + 3 x 4·s·b·V.
    assert torch_loss - mega == pytest.approx(
        12 * sbv + 2 * 2 * S * 2 * H - 4 * S * 2 * H - 4 * sbv
    )


# Peak live tensor bytes of advisor/benchmarks/gpt.py's GPT in one training step on this CPU build of
# torch 2.13 (advisor.benchmarks.train_step.live_peak_bytes): at the start of backward, no gradients
# exist yet, so the model's weights + optimizer + activations are the peak.
TORCH_LIVE_PEAK_MIB = {
    ("gpt-4L-256", "fp32"): 163.06,
    ("gpt-4L-256", "bf16-autocast"): 142.56,
    ("gpt-8L-512", "fp32"): 1765.22,
    ("gpt-8L-512", "bf16-autocast"): 1369.22,
}


@pytest.mark.parametrize(("name", "precision"), list(TORCH_LIVE_PEAK_MIB))
def test_amp_accounting_matches_torch_live_tensors(name: str, precision: str) -> None:
    import advisor.validate as v

    shape = next(s for s in v.CPU_CONFIGS if s.name == name)
    spec = v.model_spec(shape)
    plan = ParallelPlan(micro_batch=shape.batch)
    tr = TrainingSpec(precision=v.PRECISIONS[precision], convention="amp", recompute="selective")
    states = model_state_memory(spec, plan, tr)
    peak = states.weights + states.optimizer + activation_memory(spec, plan, tr)
    assert peak / 2**20 == pytest.approx(TORCH_LIVE_PEAK_MIB[(name, precision)], rel=0.01)
