"""Fine-tuning (issue 11): LoRA/QLoRA parameters, memory, step time, CLI and bad input.

Figures checked against finetune-notes.md (shared/validation): litgpt's printed LoRA
counts, bitsandbytes' NF4 layout and the QLoRA paper's 0.127-bit double quantization,
litgpt's measured double-quantization saving, the QLoRA paper's 65B-in-48GB claim.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from advisor.catalog import load_catalog
from advisor.estimate import estimate, hardware_device
from advisor.finetune import FinetuneSpec
from advisor.finetune.memory import finetune_memory, nf4_bytes
from advisor.finetune.params import trainable_params
from advisor.hardware import resolve_hardware
from advisor.layout import LayoutChoice
from advisor.model.memory import activation_memory
from advisor.model.presets import preset
from advisor.model.spec import TrainingSpec
from advisor.model.time import Plans
from advisor.search import score
from tests.conftest import assert_user_error

ACCEPT = [
    "estimate",
    "--model",
    "llama-3-8b",
    "--method",
    "qlora",
    "--accelerator",
    "rtx-4090",
    "--count",
    "1",
    "--micro-batch",
    "2",
    "--seq-len",
    "2048",
    "--recompute",
    "full",
    "--json",
]


# --- trainable parameters: r·(d_in + d_out) per adapted matrix -------------------------


@pytest.mark.parametrize(
    ("model", "rank", "targets", "expected"),
    [
        ("llama-2-7b", 8, "q,v", 4_194_304),  # litgpt resource tables print 4,194,304
        ("llama-2-13b", 8, "q,v", 6_553_600),  # litgpt prints 6,553,600
        ("llama-3-8b", 8, "q,v,o,gate,up,down", 19_660_800),  # notes: GQA k/v 1024 wide
        ("llama-2-70b", 16, "all", 207_093_760),  # notes: all 7 linear layers, r=16
    ],
)
def test_lora_trainable_params_match_published_counts(model, rank, targets, expected) -> None:
    ft = FinetuneSpec(method="lora", lora_rank=rank, lora_targets=targets)
    assert trainable_params(preset(model), ft) == expected


def test_target_aliases_and_gelu_mlp() -> None:
    both = FinetuneSpec(method="lora", lora_targets="attn,mlp")
    assert both.lora_targets == FinetuneSpec(method="lora", lora_targets="all").lora_targets
    gpt = preset("gpt2")  # 2-matrix GELU MLP: 'gate' adapts nothing, up/down do
    mlp = trainable_params(gpt, FinetuneSpec(method="lora", lora_rank=4, lora_targets="mlp"))
    h, f = gpt.hidden, gpt.ffn
    assert mlp == gpt.layers * 4 * ((h + f) + (f + h))


def test_full_method_trains_everything_and_qlora_defaults() -> None:
    spec = preset("llama-2-7b")
    assert trainable_params(spec, FinetuneSpec()) == 6_738_415_616
    q = FinetuneSpec(method="qlora")
    assert (q.quant, q.double_quant, q.lora_rank) == ("nf4", True, 16)
    assert FinetuneSpec(method="lora").quant == "none"


# --- NF4 layout (bitsandbytes functional.py; QLoRA paper) --------------------------------


def test_nf4_bytes_follow_bitsandbytes_layout() -> None:
    n = 64 * 256 * 1000  # whole blocks of 64, whole blocks of 256 absmax
    values, consts = nf4_bytes(n, double_quant=False)
    assert values == n // 2  # two 4-bit values per uint8
    assert consts == 4 * n // 64  # one fp32 absmax per block of 64
    values, consts = nf4_bytes(n, double_quant=True)
    assert consts == n // 64 + 4 * n // (64 * 256)  # 8-bit absmax, fp32 per 256 of them
    # QLoRA paper: double quantization cuts the constants from 0.5 to 0.127 bit/param
    assert 8 * consts / n == pytest.approx(0.127, abs=5e-4)
    assert 8 * nf4_bytes(n, double_quant=False)[1] / n == pytest.approx(0.5)


def _one_plan(**kw) -> Plans:
    fields = {"dp": 1, "tp": 1, "pp": 1, "vpp": 1, "sp": 0, "zero": 0, "mb": 1, "m": 1}
    fields.update(rec=2)
    fields.update(kw)
    return Plans.of(**fields)


@pytest.mark.parametrize(("model", "saving_gb"), [("llama-2-7b", 0.30), ("llama-2-13b", 0.59)])
def test_double_quant_saving_matches_litgpt(model, saving_gb) -> None:
    """litgpt: nf4 14.14 GB vs nf4-dq 13.84 GB (7B), 23.14 vs 22.55 GB (13B)."""
    spec = preset(model)
    tr = TrainingSpec(recompute="full")
    plain = finetune_memory(spec, _one_plan(), tr, FinetuneSpec(method="qlora", double_quant=False))
    dq = finetune_memory(spec, _one_plan(), tr, FinetuneSpec(method="qlora"))
    saved = float(plain.quant_constants[0] - dq.quant_constants[0]) / 1e9
    assert saved == pytest.approx(saving_gb, rel=0.05)


def test_qlora_65b_fits_a_48gb_gpu() -> None:
    """QLoRA paper: finetuning a 65B model fits in < 48 GB (Guanaco: r 64, all linear)."""
    cat = load_catalog()
    hw = resolve_hardware(cat, "rtx-6000-ada", 1, None, None, None)
    ft = FinetuneSpec(method="qlora", lora_rank=64)
    spec = preset("llama-65b").model_copy(update={"seq_len": 512})
    out = estimate(
        spec,
        TrainingSpec(tokens=1e6),
        hw,
        LayoutChoice(micro_batch=1, recompute="full"),
        catalog=cat,
        finetune=ft,
    )
    assert out.fits is True
    assert out.memory_per_device_bytes.total < 48e9
    # 16-bit LoRA of the same model does not fit (2 bytes per base parameter alone)
    lora = FinetuneSpec(method="lora", lora_rank=64)
    out16 = estimate(
        spec, TrainingSpec(tokens=1e6), hw, LayoutChoice(micro_batch=1), catalog=cat, finetune=lora
    )
    assert out16.fits is False


# --- memory and time against full fine-tuning -------------------------------------------


def _scores(ft, rec=0, **plan):
    cat = load_catalog()
    hw = resolve_hardware(cat, "a100-sxm4-80gb", 8, None, None, None)
    dev = hardware_device(cat, hw)
    spec = preset("llama-2-7b")
    plans = _one_plan(rec=rec, **plan)
    tr = TrainingSpec(recompute=("none", "selective", "full")[rec])
    return spec, tr, plans, score(spec, tr, plans, dev, 80e9, 1e9, finetune=ft)


def test_full_method_is_pretraining_bit_for_bit() -> None:
    *_, none = _scores(None, dp=8, zero=1, m=4)
    *_, full = _scores(FinetuneSpec(method="full"), dp=8, zero=1, m=4)
    assert np.array_equal(none.memory_total, full.memory_total)
    assert np.array_equal(none.step_time, full.step_time)
    assert full.base_weights is None


def test_lora_memory_parts_add_up_and_adapter_intermediates_are_counted() -> None:
    ft = FinetuneSpec(method="lora", lora_rank=8, lora_targets="q,v")
    spec, tr, plans, s = _scores(ft)
    assert s.weights[0] == pytest.approx(s.base_weights[0] + s.quant_constants[0] + s.adapters[0])
    parts = s.weights + s.gradients + s.optimizer + s.activations + s.other
    assert s.memory_total[0] == pytest.approx(parts[0])
    n = trainable_params(spec, ft)
    assert s.adapters[0] == 2 * n and s.gradients[0] == 2 * n
    assert s.optimizer[0] == 8 * n  # AdamW's fp32 moments; bf16 adapters, no fp32 master
    assert s.quant_constants[0] == 0
    base_act = activation_memory(spec, plans, tr, rec=plans.rec, flash_attention=True)
    extra = 2 * spec.seq_len * 1 * 8 * 2 * spec.layers  # x·A: r values, 2 targets, bf16
    assert s.activations[0] - base_act[0] == pytest.approx(extra)


def test_qlora_base_is_about_a_quarter_of_lora() -> None:
    _, _, _, lora = _scores(FinetuneSpec(method="lora"))
    _, _, _, qlora = _scores(FinetuneSpec(method="qlora"))
    ratio = (qlora.base_weights[0] + qlora.quant_constants[0]) / lora.base_weights[0]
    assert 0.25 < ratio < 0.35  # 4.127 bits of 16 on the linear layers, 16-bit embeddings


def test_frozen_base_skips_weight_gradients_and_optimizer() -> None:
    _, _, _, full = _scores(FinetuneSpec(method="full"))
    _, _, _, lora = _scores(FinetuneSpec(method="lora", lora_rank=8, lora_targets="q,v"))
    # backward of a frozen linear is one matmul instead of two: ~2/3 of full's compute
    ratio = lora.time.compute[0] / full.time.compute[0]
    assert 0.6 < ratio < 0.9
    assert lora.time.optimizer[0] < full.time.optimizer[0] / 100


def test_dequantization_costs_memory_traffic() -> None:
    _, _, _, lora = _scores(FinetuneSpec(method="lora"))
    _, _, _, qlora = _scores(FinetuneSpec(method="qlora"))
    assert qlora.time.memory_bound[0] > lora.time.memory_bound[0]
    assert qlora.time.compute[0] == pytest.approx(lora.time.compute[0])


def test_adapter_gradients_only_are_reduced() -> None:
    _, _, _, full = _scores(FinetuneSpec(method="full"), dp=8, m=1)
    _, _, _, lora = _scores(FinetuneSpec(method="lora"), dp=8, m=1)
    assert lora.time.dp_comm_total[0] < full.time.dp_comm_total[0] / 20


# --- CLI ---------------------------------------------------------------------------------


def test_acceptance_qlora_llama3_8b_fits_an_rtx_4090(cli) -> None:
    r = cli(*ACCEPT)
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["fits"] is True
    assert d["method"] == "qlora"
    assert d["trainable_params"] == trainable_params(
        preset("llama-3-8b"), FinetuneSpec(method="qlora")
    )
    m = d["memory_per_device_bytes"]
    for part in ("base_weights", "quant_constants", "adapters", "optimizer", "activations"):
        assert m[part] > 0, part
    assert m["weights"] == pytest.approx(m["base_weights"] + m["quant_constants"] + m["adapters"])
    keys = ("weights", "gradients", "optimizer", "activations", "other")
    assert m["total"] == pytest.approx(sum(m[k] for k in keys))
    assert m["total"] <= d["memory_capacity_bytes"]
    # the pretraining document's keys are all still there
    pre = json.loads(cli(*[a for a in ACCEPT if a not in ("--method", "qlora")]).out)
    # (full training does not fit the 4090: that document adds what would fit)
    assert (set(pre) - {"what_would_fit"}) | {"method", "trainable_params"} == set(d)
    assert "method" not in pre and "base_weights" not in pre["memory_per_device_bytes"]
    assert any("--tokens-per-epoch" in a for a in d["assumptions"])  # no dataset was given
    assert not any("--tokens-per-epoch" in a for a in pre["assumptions"])


def test_human_output_names_the_parts(cli) -> None:
    r = cli(*[a for a in ACCEPT if a != "--json"])
    assert r.code == 0, r.err
    for word in ("base weights", "quant constants", "adapters", "optimizer", "activations"):
        assert word in r.out
    assert "trainable parameters" in r.out


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--lora-rank", "0"], ["--lora-rank", "at least 1"]),
        (["--lora-targets", "q,zz"], ["'zz'", "q, k, v, o, gate, up, down"]),
        (["--lora-targets", "q,gaet"], ["did you mean 'gate'"]),
        (["--quant", "nf4", "--method", "full"], ["--method qlora"]),
        (["--method", "qlora", "--accelerator", "tpu-v5e"], ["tpu-v5e", "--method lora"]),
        (["--method", "qlora", "--accelerator", "mi300x"], ["mi300x", "bitsandbytes"]),
        (["--method", "flora"], ["unknown method", "lora"]),
        (["--lora-rank", "8", "--method", "full"], ["--method lora or qlora"]),
    ],
)
def test_bad_finetune_input_is_one_line_exit_2(cli, extra, needles) -> None:
    base = ["estimate", "--model", "llama-3-8b", "--accelerator", "rtx-4090", "--count", "1"]
    if "--method" not in extra:
        extra = ["--method", "lora", *extra]
    if "--accelerator" in extra:
        base = base[:3] + base[5:]
    assert_user_error(cli(*base, *extra), 2, *needles)


def test_tokens_per_epoch_times_epochs(cli) -> None:
    args = [*ACCEPT, "--tokens-per-epoch", "50M", "--epochs", "3"]
    d = json.loads(cli(*args).out)
    assert d["tokens"] == 150e6
    assert json.loads(cli(*args, "--tokens", "150M").out)["tokens"] == 150e6
    assert_user_error(cli(*args, "--tokens", "100M"), 2, "--tokens", "disagrees")
    assert_user_error(cli(*ACCEPT, "--epochs", "2"), 2, "--tokens-per-epoch")


def test_recommend_lora_70b_ranks_options_and_qlora_leaves_out_non_cuda(cli) -> None:
    r = cli(
        "recommend", "--model", "llama-3-70b", "--method", "lora", "--tokens", "200M",
        "--budget", "500", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["options"]
    r = cli(
        "recommend", "--model", "llama-3-8b", "--method", "qlora", "--tokens", "20M",
        "--budget", "100", "--json",
    )  # fmt: skip
    d = json.loads(r.out)
    opts = d["options"]
    assert opts and all(o["method"] == "qlora" and o["trainable_params"] > 0 for o in opts)
    cat = load_catalog()
    assert all(cat.accelerator(o["hardware"]["accelerator"]).vendor == "NVIDIA" for o in opts)
    assert any("bitsandbytes" in x["reason"] for x in d["dropped"])


# --- a calibrated LoRA allocator slack (advisor calibrate's `lora` rows) ------------------


def test_lora_allocator_slack_is_used_for_lora_only() -> None:
    import advisor.validate as v
    from advisor.benchmarks.results import GPTShape
    from advisor.catalog.schema import Curve, DeviceProfile, Figure

    def fig(value: float) -> Figure:
        return Figure(value=value, source="LOCAL-BENCH", as_of="2026-12-01", note="test")

    curve = Curve(max_efficiency=fig(0.5), points=[(1e6, 0.1), (1e9, 0.5)])
    base = DeviceProfile(
        id="cpu-test",
        accelerator="cpu",
        matmul={"fp32": curve},
        memory_bandwidth=curve,
        memory_bandwidth_gbs=fig(50.0),
        optimizer_bandwidth_efficiency=fig(0.2),
        framework_overhead_gb=fig(0.05),
    )
    full_only = base.model_copy(update={"allocator_slack": fig(0.2)})
    both = full_only.model_copy(update={"lora_allocator_slack": fig(0.5)})
    shape = GPTShape(name="g", layers=2, hidden=64, heads=2, vocab=128, seq_len=32, batch=2)

    def other(prof: DeviceProfile, method: str) -> float:
        hw = v.hardware(load_catalog(), prof)
        return v.predict(shape, "fp32", hw, method=method).memory_per_device_bytes.other

    assert other(both, "full") == other(full_only, "full")  # full training: its own slack
    added_full = other(full_only, "lora") - other(base, "lora")
    added_lora = other(both, "lora") - other(base, "lora")
    assert added_full > 0  # without a LoRA figure, full training's slack stands in
    assert added_lora / added_full == pytest.approx(0.5 / 0.2)


def test_adapter_elementwise_work_includes_the_scale_multiply() -> None:
    from advisor.finetune.params import targeted
    from advisor.finetune.time import adapter_ops

    spec = preset("llama-2-7b")
    ft = FinetuneSpec(method="lora", lora_rank=8, lora_targets="q,v")
    tokens, elem = 1024.0, 2
    vec = [op for op in adapter_ops(spec, ft, tokens, 1.0, elem) if op.kind == "vector"]
    outs = sum(d_out * n for _, d_out, n in targeted(spec, ft).values())
    # per adapted matrix: delta * alpha/r (read, write) and base + delta (two reads, a write)
    assert sum(op.bytes for op in vec) == pytest.approx(tokens * outs * elem * (2 + 3))
