"""`advisor validate`: predictions beside real (or, for the arithmetic, fake) measurements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import advisor.validate as v
from advisor.benchmarks.harness import summarize
from advisor.benchmarks.results import GPTShape, TrainMeasurement, TrainRequest
from advisor.calibrate import write_profile
from advisor.catalog import load_catalog
from advisor.catalog.schema import Curve, DeviceProfile, Figure
from advisor.model.params import count_params
from tests.conftest import assert_user_error

TINY = GPTShape(name="gpt-tiny", layers=1, hidden=32, heads=2, vocab=64, seq_len=16, batch=2)


def profile() -> DeviceProfile:
    def fig(value: float) -> Figure:
        return Figure(value=value, source="LOCAL-BENCH", as_of="2026-12-01", note="test")

    curve = Curve(max_efficiency=fig(0.5), points=[(1e6, 0.1), (1e9, 0.5)])
    return DeviceProfile(
        id="cpu-test",
        accelerator="cpu",
        matmul={"fp32": curve, "bf16": curve},
        memory_bandwidth=curve,
        memory_bandwidth_gbs=fig(50.0),
        optimizer_bandwidth_efficiency=fig(0.2),
        framework_overhead_gb=fig(0.05),
    )


def fake_measure(peak_factor: float, step_s: float):  # type: ignore[no-untyped-def]
    """Measurements whose peak is `peak_factor` x the model's total (tensors for the probe)."""
    hw = v.hardware(load_catalog(), profile())

    def run(req: TrainRequest) -> TrainMeasurement:
        if req.model.name == "gpt-probe":
            peak = 16.0 * count_params(v.model_spec(req.model)).total + 0.1e9
        else:
            total = v.predict(req.model, req.precision, hw).memory_per_device_bytes.total
            peak = peak_factor * total
        return TrainMeasurement(
            request=req,
            params=count_params(v.model_spec(req.model)).total,
            tokens=req.model.batch * req.model.seq_len,
            time=summarize([step_s] * req.steps, warmup=req.warmup),
            baseline_bytes=1e8,
            peak_bytes=peak,
            peak_method="fake",
            loss_first=5.0,
            loss_last=4.0,
        )

    return run


def test_model_spec_is_the_torch_gpt() -> None:
    spec = v.model_spec(TINY)
    assert (spec.mlp, spec.norm, spec.position) == ("gelu", "layernorm", "learned")
    assert spec.linear_bias and spec.tied_embeddings and not spec.dropout
    assert spec.ffn == 4 * TINY.hidden


def test_configs_cover_at_least_three_shapes() -> None:
    for device in ("cpu", "cuda"):
        assert len(v.configs(device, quick=True)) >= 3
        assert len(v.configs(device, quick=False)) >= len(v.configs(device, quick=True))


def test_errors_are_relative_to_the_measurement() -> None:
    report = v.validate(
        profile(),
        load_catalog(),
        device="cpu",
        quick=True,
        precisions=["fp32", "bf16-autocast"],
        measure=fake_measure(peak_factor=2.0, step_s=0.25),
        shapes=[TINY],
    )
    assert [(r.config, r.precision) for r in report.rows] == [
        ("gpt-tiny", "fp32"),
        ("gpt-tiny", "bf16-autocast"),
    ]
    for r in report.rows:
        assert r.memory_error == pytest.approx(-0.5)
        assert r.measured_step_s == 0.25
        if r.predicted_step_s is None:
            assert r.step_error is None
        else:
            assert r.step_error == pytest.approx(r.predicted_step_s / 0.25 - 1)
    assert report.framework_overhead_gb == pytest.approx(0.1)
    assert report.profile_framework_overhead_gb == pytest.approx(0.05)


def test_validate_trains_for_real_in_a_fresh_process() -> None:
    pytest.importorskip("torch")
    report = v.validate(
        profile(), load_catalog(), device="cpu", quick=True, precisions=["fp32"], shapes=[TINY]
    )
    (row,) = report.rows
    assert row.params == count_params(v.model_spec(TINY)).total  # torch and advisor agree
    assert row.measured_step_s > 0 and row.measured_memory_bytes > 0
    assert row.measurement.loss_last < row.measurement.loss_first + 1.0
    assert report.framework_overhead_gb is not None and report.framework_overhead_gb > 0


def test_cli_validate_prints_the_table_and_writes_json(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    monkeypatch.setattr(v, "configs", lambda device, quick: [TINY])
    prof = tmp_path / "profile.yaml"
    write_profile(profile(), prof)
    out = tmp_path / "validate.json"
    r = cli("validate", "--profile", prof, "--quick", "--out", out)
    assert r.code == 0, r.err
    assert "gpt-tiny" in r.out and "fp32" in r.out and "mem MiB meas" in r.out
    doc = json.loads(out.read_text())
    assert doc["profile"] == "cpu-test" and len(doc["rows"]) >= 1
    assert v.ValidationReport.model_validate(doc).rows[0].config == "gpt-tiny"


def test_cli_validate_user_errors(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*a: object, **k: object) -> None:
        raise AssertionError("training must not start")

    monkeypatch.setattr(v, "validate", never)
    r = cli("validate", "--profile", tmp_path / "missing.yaml")
    assert_user_error(r, 1, "missing.yaml", "not found")
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "Bad Id", "accelerator": "cpu"}')
    r = cli("validate", "--profile", bad)
    assert_user_error(r, 1, "bad.json", "id")
    good = tmp_path / "p.yaml"
    write_profile(profile(), good)
    r = cli("validate", "--profile", good, "--out", tmp_path / "no" / "x.json")
    assert_user_error(r, 2, "--out")
    r = cli("validate", "--profile", good, "--device", "tpu")
    assert_user_error(r, 2, "--device")


def test_autocast_is_predicted_as_torch_amp() -> None:
    hw = v.hardware(load_catalog(), profile())
    out = v.predict(TINY, "bf16-autocast", hw)
    n = count_params(v.model_spec(TINY)).total
    mem = out.memory_per_device_bytes
    assert mem.gradients == pytest.approx(4 * n)  # fp32 gradients
    assert mem.optimizer == pytest.approx(8 * n)  # moments only: the fp32 weights are the master
    assert mem.weights > 4 * n  # fp32 weights and autocast's bf16 casts
    assert any("'amp'" in a for a in out.assumptions)


def test_benchmarks_calibrate_on_other_shapes_than_validate_trains() -> None:
    # Calibrating on the validated shapes would be circular: the training-like benchmarks
    # (the overhead probe, the allocator runs, AdamW's parameter lists) use other sizes.
    pytest.importorskip("torch", reason="the benchmark modules that choose the shapes need torch")
    from advisor.benchmarks import adam, allocator
    from advisor.benchmarks.harness import Context, quick_context
    from advisor.benchmarks.overhead import PROBE

    def key(s: GPTShape) -> tuple[int, int, int]:
        return (s.layers, s.hidden, s.vocab)

    validated = {key(s) for s in v.CPU_CONFIGS + v.GPU_CONFIGS}
    for device in ("cpu", "cuda"):
        for ctx in (Context(device=device), quick_context(Context(device=device, quick=True))):
            used = [*adam.shapes(ctx), *allocator.shapes(ctx), PROBE]
            assert validated.isdisjoint(key(s) for s in used), device


def test_validate_gives_a_verdict_against_stated_tolerances() -> None:
    def run(factor: float, **tol: float) -> v.ValidationReport:
        return v.validate(
            profile(),
            load_catalog(),
            device="cpu",
            quick=True,
            precisions=["fp32", "bf16-autocast"],
            measure=fake_measure(peak_factor=factor, step_s=0.25),
            shapes=[TINY],
            **tol,
        )

    report = run(1.1)  # predictions 1/1.1 of the measured peak: -9.1%
    mem = next(s for s in report.summary if s.quantity == "peak_memory")
    assert mem.tolerance == v.MEMORY_TOLERANCE == 0.15
    assert mem.rows == 2 and mem.within == 2 and mem.passed is True
    assert mem.max_abs_error == pytest.approx(1 - 1 / 1.1)
    assert mem.mean_abs_error == pytest.approx(1 - 1 / 1.1)
    failing = run(1.1, memory_tolerance=0.05)
    assert failing.passed is False
    assert next(s for s in failing.summary if s.quantity == "peak_memory").passed is False
    step = next(s for s in report.summary if s.quantity == "step_time")
    errors = [abs(r.step_error) for r in report.rows if r.step_error is not None]
    assert step.rows == len(errors)
    if errors:
        assert step.max_abs_error == pytest.approx(max(errors))
        assert step.passed == (max(errors) <= v.STEP_TOLERANCE)
        assert report.passed == (step.passed and mem.passed)


def test_cli_validate_prints_the_verdict(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_measure(peak_factor=2.0, step_s=0.25)
    real_validate = v.validate
    monkeypatch.setattr(v, "configs", lambda device, quick: [TINY])
    monkeypatch.setattr(v, "validate", lambda *a, **k: real_validate(*a, **{**k, "measure": fake}))
    monkeypatch.setattr("advisor.cli.validate_cmd._precisions", lambda device: ["fp32"])
    prof = tmp_path / "profile.yaml"
    write_profile(profile(), prof)
    r = cli("validate", "--profile", prof, "--quick")
    assert r.code == 0, r.err
    assert "peak memory: mean |error| 50.0%, max 50.0% (gpt-tiny fp32)" in r.out
    assert "0 of 1 within ±15%: FAIL" in r.out and "verdict: FAIL" in r.out
    doc = json.loads(cli("validate", "--profile", prof, "--quick", "--json").out)
    assert doc["passed"] is False
    assert {s["quantity"] for s in doc["summary"]} == {"step_time", "peak_memory"}
    loose = cli("validate", "--profile", prof, "--quick", "--memory-tolerance", "0.6", "--json")
    mem = [s for s in json.loads(loose.out)["summary"] if s["quantity"] == "peak_memory"]
    assert mem[0]["passed"] is True
