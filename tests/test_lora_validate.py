"""LoRA in `advisor bench` and `advisor validate` (issue 11, item 5): a frozen base with
trainable adapters, measured here and predicted with `estimate(..., finetune=...)`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import advisor.validate as v
from advisor.benchmarks.harness import summarize
from advisor.benchmarks.results import GPTShape, TrainMeasurement, TrainRequest
from advisor.calibrate import write_profile
from advisor.catalog import load_catalog
from advisor.finetune.params import trainable_params
from advisor.model.params import count_params
from tests.conftest import assert_user_error
from tests.test_validate import TINY, profile


def fake_measure(peak_factor: float, step_s: float):  # type: ignore[no-untyped-def]
    """Measurements `peak_factor` x the prediction of the method the request trains."""
    hw = v.hardware(load_catalog(), profile())

    def run(req: TrainRequest) -> TrainMeasurement:
        spec = v.model_spec(req.model)
        method = "lora" if req.lora else "full"
        total = v.predict(req.model, req.precision, hw, method).memory_per_device_bytes.total
        adapters = trainable_params(spec, v.finetune_for(method)) if req.lora else 0
        return TrainMeasurement(
            request=req,
            params=count_params(spec).total + adapters,
            tokens=req.model.batch * req.model.seq_len,
            time=summarize([step_s] * req.steps, warmup=req.warmup),
            baseline_bytes=1e8,
            peak_bytes=peak_factor * total if req.model.name != "gpt-probe" else 1e8,
            peak_method="fake",
            trainable_params=adapters or None,
            lora_impl="torch" if req.lora else None,
            loss_first=5.0,
            loss_last=4.0,
        )

    return run


def _validate(methods: list[str], factor: float = 1.1) -> v.ValidationReport:
    return v.validate(
        profile(),
        load_catalog(),
        device="cpu",
        quick=True,
        precisions=["fp32", "bf16-autocast"],
        measure=fake_measure(peak_factor=factor, step_s=0.25),
        shapes=[TINY],
        methods=methods,
    )


def test_validate_lora_rows_are_predicted_with_the_finetune_spec() -> None:
    report = _validate(["full", "lora"])
    assert [(r.method, r.precision) for r in report.rows] == [
        ("full", "fp32"),
        ("full", "bf16-autocast"),
        ("lora", "fp32"),
        ("lora", "bf16-autocast"),
    ]
    full, lora = report.rows[0], report.rows[2]
    # the frozen base has no gradients: fp32 gradients of the adapters only
    n_adapt = trainable_params(v.model_spec(TINY), v.finetune_for("lora"))
    assert lora.predicted_memory["gradients"] == pytest.approx(4 * n_adapt)
    assert full.predicted_memory["gradients"] == pytest.approx(4 * full.params)
    assert lora.predicted_memory["adapters"] > 0
    assert lora.memory_error == pytest.approx(1 / 1.1 - 1)
    mem = next(s for s in report.summary if s.quantity == "peak_memory")
    assert mem.rows == 4 and mem.passed is True  # one verdict over full and LoRA rows
    assert not any("parameters" in n for n in report.notes)  # torch and advisor agree


def test_qlora_on_cpu_is_skipped_with_the_reason_not_faked() -> None:
    report = _validate(["lora", "qlora"])
    assert {r.method for r in report.rows} == {"lora"}
    assert "bitsandbytes" in report.skipped["qlora"] and "CUDA" in report.skipped["qlora"]
    assert any(n.startswith("qlora: skipped") for n in report.notes)
    assert report.methods == ["lora", "qlora"]


def test_cli_validate_method_option(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_measure(peak_factor=1.05, step_s=0.25)
    real_validate = v.validate
    monkeypatch.setattr(v, "configs", lambda device, quick: [TINY])
    monkeypatch.setattr(v, "validate", lambda *a, **k: real_validate(*a, **{**k, "measure": fake}))
    monkeypatch.setattr("advisor.cli.validate_cmd._precisions", lambda device: ["fp32"])
    prof = tmp_path / "profile.yaml"
    write_profile(profile(), prof)
    out = tmp_path / "v.json"
    r = cli("validate", "--profile", prof, "--quick", "--method", "lora,qlora", "--out", out)
    assert r.code == 0, r.err
    assert "lora" in r.out and "qlora: skipped" in r.out and "verdict" in r.out
    doc = json.loads(out.read_text())
    assert [row["method"] for row in doc["rows"]] == ["lora"]
    assert "CUDA" in doc["skipped"]["qlora"]
    r = cli("validate", "--profile", prof, "--method", "lroa")
    assert_user_error(r, 2, "--method", "lora")


def test_lora_bench_row_matches_advisor_adapter_count(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from advisor.benchmarks.harness import Context, tiny_context
    from advisor.benchmarks.results import BenchResult, LoraStepRow
    from advisor.benchmarks.runner import run_local

    result = run_local("lora", tiny_context(Context(device="cpu", threads=1, scratch=tmp_path)))
    assert result.status == "ok", result.reason
    BenchResult.model_validate(result.model_dump())
    row = result.rows[0]
    assert isinstance(row, LoraStepRow)
    from advisor.finetune import FinetuneSpec

    ft = FinetuneSpec(method="lora", lora_rank=row.rank, lora_targets=row.targets)
    spec = v.model_spec(row.model)
    if row.impl == "torch":  # PEFT adapts the fused QKV as one matrix
        assert row.trainable_params == trainable_params(spec, ft)
        assert row.params == count_params(spec).total + row.trainable_params
    assert row.time.median_s > 0 and row.peak_bytes > 0 and row.tokens_per_s > 0


def test_lora_worker_trains_only_the_adapters() -> None:
    pytest.importorskip("torch")
    from advisor.benchmarks.train_step import run_in_subprocess

    shape = GPTShape(name="t", layers=2, hidden=32, heads=4, vocab=64, seq_len=16, batch=2)
    m = run_in_subprocess(
        TrainRequest(model=shape, steps=2, warmup=1, threads=1, lora=v.lora_request())
    )
    spec = v.model_spec(shape)
    assert m.lora_impl == "torch"
    assert m.trainable_params == trainable_params(spec, v.finetune_for("lora"))
    assert m.params == count_params(spec).total + m.trainable_params
    assert m.peak_bytes > 0 and m.loss_last < m.loss_first + 1.0


def test_lora_linear_is_the_frozen_layer_plus_the_low_rank_update() -> None:
    torch = pytest.importorskip("torch")
    from advisor.benchmarks.lora_model import LoRALinear

    torch.manual_seed(0)
    base = torch.nn.Linear(6, 9)
    layer = LoRALinear(base, rank=2, alpha=4.0, slices=[0, 2], parts=3)
    for b in layer.lora_b:
        torch.nn.init.normal_(b)
    x = torch.randn(5, 6)
    want = base(x)
    for i, s in enumerate([0, 2]):
        a, b = layer.lora_a[i], layer.lora_b[i]
        want[:, 3 * s : 3 * s + 3] += (x @ a.T @ b.T) * 2.0
    assert torch.allclose(layer(x), want, atol=1e-6)
    assert not any(p.requires_grad for p in base.parameters())


def _ft_memory(precision: str, targets: list[str]):  # type: ignore[no-untyped-def]
    from advisor.finetune import FinetuneSpec
    from advisor.finetune.memory import finetune_memory
    from advisor.model.spec import ParallelPlan, TrainingSpec

    spec = v.model_spec(TINY)
    tokens = float(TINY.batch * TINY.seq_len)
    training = TrainingSpec(
        tokens=tokens, global_batch_tokens=tokens, precision=precision, convention="amp"
    )
    plan = ParallelPlan(micro_batch=TINY.batch)
    ft = FinetuneSpec(method="lora", lora_rank=8, lora_targets=targets)
    return spec, finetune_memory(spec, plan, training, ft)


def test_amp_lora_base_is_fp32_and_frozen_weights_keep_their_casts() -> None:
    # torch.amp trains an fp32 model: the frozen base is 4 bytes per weight, and autocast
    # casts a frozen weight each forward (no cache for tensors without grad) and autograd
    # keeps that bf16 copy for the input gradient.
    spec, mem = _ft_memory("bf16", ["q", "k", "v", "o", "up", "down"])
    counts = count_params(spec)
    n_adapt = trainable_params(spec, v.finetune_for("lora"))
    assert float(mem.base_weights) == pytest.approx(4 * counts.total)
    matmul = spec.layers * (counts.attention + counts.mlp_expert) + counts.vocab_hidden
    assert float(mem.buffers) == pytest.approx(2 * matmul + 2 * n_adapt)
    _, fp32 = _ft_memory("fp32", ["q", "k", "v", "o", "up", "down"])
    assert float(fp32.base_weights) == pytest.approx(4 * counts.total)
    assert float(fp32.buffers) == 0.0  # no autocast, no casts


def test_amp_lora_keeps_one_input_cast_per_adapted_matrix() -> None:
    # Each adapter's A saves its own bf16 cast of x: q, k and v keep three copies under
    # autocast; without autocast they share the one fp32 tensor.
    tokens = TINY.batch * TINY.seq_len
    r, h, layers = 8, TINY.hidden, TINY.layers
    _, qkv = _ft_memory("bf16", ["q", "k", "v"])
    _, q = _ft_memory("bf16", ["q"])
    xa = 2 * r * 2  # k's and v's x·A, bf16
    assert float(qkv.activations - q.activations) == pytest.approx(
        layers * tokens * (xa + 2 * 2 * h)
    )
    _, qkv32 = _ft_memory("fp32", ["q", "k", "v"])
    _, q32 = _ft_memory("fp32", ["q"])
    assert float(qkv32.activations - q32.activations) == pytest.approx(layers * tokens * 4 * r * 2)
