"""Calibration: fitting synthetic benchmark results whose answers are known."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from advisor.benchmarks.busbw import bus_factor
from advisor.benchmarks.harness import summarize
from advisor.benchmarks.results import (
    AllocatorRow,
    AttentionRow,
    BandwidthRow,
    BenchFile,
    BenchResult,
    CollectiveRow,
    DeviceInfo,
    Environment,
    GPTShape,
    LoraStepRow,
    MatmulRow,
    OptimizerRow,
    OverheadRow,
    RunConfig,
    VectorRow,
    write_record,
)
from advisor.calibrate import (
    SOURCE,
    calibrate,
    curve_points,
    fit_latency_bandwidth,
    load_profile,
    median_by_size,
    reference_peak,
    write_profile,
)
from advisor.catalog import load_catalog
from advisor.catalog.local_cpu import cpu_facts
from advisor.catalog.schema import DeviceProfile
from advisor.errors import DataError
from tests.conftest import assert_user_error

DAY = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
H100_BF16_TFLOPS = 989.0  # must match the catalog's h100-sxm5-80gb dense bf16 peak
LATENCY_S, BUSBW = 25e-6, 40e9  # the link the synthetic collectives are generated from


def stats(t: float):  # type: ignore[no-untyped-def]
    return summarize([t * 0.99, t, t * 1.01], warmup=1)


def result(name: str, rows: list) -> BenchResult:  # type: ignore[type-arg]
    return BenchResult(name=name, status="ok", device="x", started=DAY, wall_s=1.0, rows=rows)


def matmul_rows(dtype: str, peak_tflops: float, eff: dict[int, float]) -> list[MatmulRow]:
    """Square matmuls of side n achieving eff[n] of the peak."""
    rows = []
    for n, e in eff.items():
        flops = 2.0 * n**3
        tflops = e * peak_tflops
        rows.append(
            MatmulRow(dtype=dtype, mode="native", m=n, n=n, k=n, flops=flops,
                      time=stats(flops / tflops / 1e12), tflops=tflops)
        )  # fmt: skip
    return rows


def collective_rows(backend: str, world: int) -> list[CollectiveRow]:
    rows = []
    for op in ("all_reduce", "all_gather", "reduce_scatter"):
        f = bus_factor(op, world)
        for size in (2**12, 2**16, 2**20, 2**24):
            t = LATENCY_S + size * f / BUSBW
            rows.append(
                CollectiveRow(op=op, backend=backend, world_size=world, dtype="fp32",
                              bytes=size, bus_factor=f, time=stats(t), algbw_gbs=size / t / 1e9,
                              busbw_gbs=size / t / 1e9 * f)
            )  # fmt: skip
    return rows


def bandwidth_rows(gbs: dict[int, float]) -> list[BandwidthRow]:
    rows = []
    for n, bw in gbs.items():
        for kernel, arrays in (("copy", 2), ("triad", 3)):
            moved = arrays * 4.0 * n
            rows.append(
                BandwidthRow(kernel=kernel, dtype="fp32", elements=n, bytes_moved=moved,
                             time=stats(moved / bw / 1e9), gbs=bw)
            )  # fmt: skip
    return rows


def env(device: str, devices: list[DeviceInfo] | None = None) -> Environment:
    f = cpu_facts()
    return Environment(
        hostname="h", platform="p", python="3.11", cpu_model=str(f["model"]),
        cpu_cores_physical=int(f["cores"]), cpu_cores_logical=2, cpu_flags=[],
        memory_bytes=1, device=device, devices=devices or [], torch_version="2.x", threads=2,
    )  # fmt: skip


ATT_FWD = {1024: 0.3, 4096: 0.6}  # sdpa forward efficiency by sequence length
ATT_BWD = {1024: 0.2, 4096: 0.4}
RATE, LAUNCH = 100e9, 5e-6  # elementwise: t = LAUNCH + (1 + b)·elements / RATE
SLACK = 0.25


def attention_rows(dtype: str, peak_tflops: float) -> list[AttentionRow]:
    """Causal sdpa rows at (4, 16, s, 128) whose efficiencies are ATT_FWD / ATT_BWD."""
    rows = []
    for s, e in ATT_FWD.items():
        flops = 4.0 * 4 * 16 * s * s * 128 * 0.5
        t_f = flops / (e * peak_tflops * 1e12)
        t_fb = t_f + 2 * flops / (ATT_BWD[s] * peak_tflops * 1e12)
        for direction, t, f in (("forward", t_f, flops), ("forward_backward", t_fb, 3 * flops)):
            rows.append(
                AttentionRow(impl="sdpa", direction=direction, causal=True, dtype=dtype, batch=4,
                             heads=16, seq_len=s, head_dim=128, flops=f, time=stats(t),
                             tflops=f / t / 1e12)
            )  # fmt: skip
    return rows


def vector_rows(dtype: str) -> list[VectorRow]:
    rows = []
    for n in (2**20, 2**24):
        for op, mult in (("norm", 3), ("activation", 3), ("softmax", 2), ("cast", 1)):
            if (op == "softmax") != (dtype == "fp32") and op in ("softmax", "cast"):
                continue  # the loss is fp32; casts belong to the low-precision dtype
            t = LAUNCH + mult * n / RATE
            rows.append(
                VectorRow(op=op, impl=op, dtype=dtype,
                          direction="forward" if op == "cast" else "forward_backward",
                          rows=n // 1024, width=1024, elements=n, time=stats(t), gelems=n / t / 1e9)
            )  # fmt: skip
    return rows


def gpu_bench() -> BenchFile:
    adam = [
        OptimizerRow(optimizer="adamw", impl=impl, default_impl=impl == "foreach",
                     params=2**26, tensors=8, bytes_moved=28.0 * 2**26,
                     time=stats(28.0 * 2**26 / gbs / 1e9), gbs=gbs)
        for impl, gbs in (("for-loop", 300.0), ("foreach", 1675.0), ("fused", 2500.0))
    ]  # fmt: skip
    shape = GPTShape(layers=1, hidden=8, heads=1, vocab=8, seq_len=4)
    overhead = [
        OverheadRow(device="cuda", precision=p, model=shape, params=100, baseline_bytes=0,
                    peak_bytes=peak, tensor_bytes=1600, overhead_bytes=peak - 1600)
        for p, peak in (("fp32", 0.5e9 + 1600), ("bf16-autocast", 0.6e9 + 1600))
    ]  # fmt: skip
    return BenchFile(
        created=DAY,
        config=RunConfig(quick=True, device="cuda", nproc=8, threads=8),
        env=env("cuda", [DeviceInfo(index=0, name="NVIDIA H100 80GB HBM3", memory_bytes=8e10)]),
        results=[
            result("matmul", matmul_rows("bf16", H100_BF16_TFLOPS, {256: 0.2, 1024: 0.6, 8192: 0.8})),
            result("membw", bandwidth_rows({2**20: 1675.0, 2**26: 2680.0, 2**28: 2847.5})),
            result("collectives", collective_rows("nccl", 8)),
            result("adam", adam),
            result("overhead", overhead),
            result("attention", attention_rows("bf16", H100_BF16_TFLOPS)),
            result("elementwise", vector_rows("fp32") + vector_rows("bf16")),
            result("allocator", [
                AllocatorRow(device="cuda", model=shape, params=100, allocated_bytes=4e9,
                             peak_bytes=0.6e9 + (1 + SLACK) * 4e9, time=stats(0.1))
            ]),
        ],
    )  # fmt: skip


def test_median_by_size_and_points() -> None:
    assert median_by_size([2, 1, 2, 2], [0.1, 0.5, 0.3, 0.2]) == [(1.0, 0.5), (2.0, 0.2)]
    assert curve_points([1, 2], [2.0, 0.0]) == [(1.0, 1.5), (2.0, 1e-9)]


def test_link_fit_recovers_latency_and_bandwidth() -> None:
    x = [2.0**p for p in range(10, 28, 2)]
    t = [LATENCY_S + xi / BUSBW for xi in x]
    lat, bw = fit_latency_bandwidth(x, t)
    assert lat == pytest.approx(LATENCY_S, rel=1e-9)
    assert bw == pytest.approx(BUSBW, rel=1e-9)


def test_link_fit_clamps_negative_latency_and_rejects_bad_data() -> None:
    x = [1e3, 1e6, 1e7]
    t = [xi / 1e9 - 1e-7 for xi in x]  # a negative intercept is not a latency
    lat, bw = fit_latency_bandwidth(x, t)
    assert lat == 0.0 and bw == pytest.approx(1e9, rel=0.05)
    with pytest.raises(ValueError):
        fit_latency_bandwidth([1e3], [1e-3])
    with pytest.raises(ValueError):
        fit_latency_bandwidth([1e3, 1e3], [1e-3, 2e-3])
    with pytest.raises(ValueError):
        fit_latency_bandwidth([1e3, 1e6], [1e-3, 1e-4])  # faster for more bytes


def test_reference_peak() -> None:
    assert reference_peak(100.0, 80.0) == (100.0, True)
    assert reference_peak(None, 80.0) == (80.0, False)
    assert reference_peak(10.0, 80.0) == (80.0, False)  # beats the catalog by > 1.5x
    assert reference_peak(100.0, 120.0) == (120.0, False)  # beats it at all: efficiency <= 1


def test_a_part_faster_than_its_catalog_peak_keeps_efficiency_at_most_1() -> None:
    # A CPU whose cores boost above the clock its catalog peak is computed at.
    cat = load_catalog()
    cpu = cat.accelerator("cpu")
    nominal = cpu.peak_tflops["fp32"]
    bench = BenchFile(
        created=DAY,
        config=RunConfig(quick=True, device="cpu", nproc=2, threads=2),
        env=env("cpu"),
        results=[result("matmul", matmul_rows("fp32", 1.2 * nominal.value, {64: 0.3, 512: 1.0}))],
    )
    profile, _ = calibrate(bench, cat, "cpu.json")
    fp32 = profile.matmul["fp32"]
    assert max(e for _, e in fp32.points) <= 1.0 and fp32.max_efficiency.value <= 1.0
    peak = profile.peak_tflops["fp32"]
    assert peak.value == pytest.approx(1.2 * nominal.value)
    assert f"{nominal.value:.4g}" in (peak.note or "") and "GHz" in (peak.note or "")


def test_gpu_profile_has_the_known_answers() -> None:
    cat = load_catalog()
    assert cat.accelerator("h100-sxm5-80gb").peak_tflops["bf16"].value == H100_BF16_TFLOPS
    profile, warnings = calibrate(gpu_bench(), cat, "gpu.json")
    assert warnings == []
    assert profile.accelerator == "h100-sxm5-80gb"
    assert profile.id == "h100-sxm5-80gb-local-2026-11-30"
    bf16 = profile.matmul["bf16"]
    assert [round(e, 9) for _, e in bf16.points] == [0.2, 0.6, 0.8]
    assert bf16.max_efficiency.value == pytest.approx(0.8)
    assert "bf16" in profile.peak_tflops  # the catalog figure the efficiencies refer to
    hbm = cat.accelerator("h100-sxm5-80gb").memory_bandwidth_gbs.value
    mem = profile.memory_bandwidth
    assert mem is not None and profile.memory_bandwidth_gbs is None  # catalog reference
    assert mem.max_efficiency.value == pytest.approx(2847.5 / hbm)
    link = profile.links["intra_node"]
    assert link.bus_bandwidth_gbs.value == pytest.approx(BUSBW / 1e9, rel=1e-6)
    assert link.latency_us.value == pytest.approx(LATENCY_S * 1e6, rel=1e-6)
    assert profile.optimizer_bandwidth_efficiency.value == pytest.approx(1675.0 / hbm)
    assert profile.framework_overhead_gb.value == pytest.approx(0.6)  # the larger probe
    # Attention, indexed by forward FLOPs per sequence and head, against the matmul peak.
    att, att_b = profile.attention["bf16"], profile.attention_backward["bf16"]
    per_head = [4.0 * s * s * 128 * 0.5 for s in ATT_FWD]
    assert [pt[0] for pt in att.points] == pytest.approx(per_head)
    assert [pt[1] for pt in att.points] == pytest.approx(list(ATT_FWD.values()), rel=1e-4)
    assert [pt[1] for pt in att_b.points] == pytest.approx(list(ATT_BWD.values()), rel=1e-4)
    for dtype, ops in (("fp32", ("norm", "activation", "softmax")), ("bf16", ("norm", "cast"))):
        rates = profile.vector_rates[dtype]
        for op in ops:
            assert getattr(rates, op).value == pytest.approx(RATE / 1e9, rel=1e-4), (dtype, op)
    assert profile.vector_rates["bf16"].softmax is None
    assert profile.allocator_slack.value == pytest.approx(SLACK)
    assert profile.kernel_overhead_us is None  # the probe rows carry no step time
    assert profile.training_efficiency is None  # and without them nothing is fitted
    assert profile.first_touch_gbs is None  # no alloc rows: nothing measured
    for fig in (bf16.max_efficiency, link.bus_bandwidth_gbs, profile.framework_overhead_gb):
        assert fig.source == SOURCE and "gpu.json" in (fig.note or "")
        assert fig.as_of == DAY.date()
    assert SOURCE in cat.sources


def test_cpu_profile_is_relative_to_the_best_measured_bandwidth() -> None:
    cat = load_catalog()
    cpu = cat.accelerator("cpu")
    bench = BenchFile(
        created=DAY,
        config=RunConfig(quick=True, device="cpu", nproc=2, threads=2),
        env=env("cpu"),
        results=[
            result("membw", bandwidth_rows({2**14: 150.0, 2**20: 60.0, 2**25: 30.0})),
            result("collectives", collective_rows("gloo", 2)),
            result("matmul", matmul_rows("fp16", 0.3, {64: 0.1, 512: 1.0})),
        ],
    )
    profile, warnings = calibrate(bench, cat, "cpu.json")
    assert profile.accelerator == "cpu"
    assert profile.memory_bandwidth_gbs is not None
    assert profile.memory_bandwidth_gbs.value == 150.0
    assert profile.memory_bandwidth.max_efficiency.value == pytest.approx(0.2)
    if "fp16" not in cpu.peak_tflops:  # no datasheet fp16 peak: the best measured is the peak
        assert profile.peak_tflops["fp16"].value == pytest.approx(0.3)
        assert profile.matmul["fp16"].max_efficiency.value == pytest.approx(1.0)
    assert any("adam" in w for w in warnings) and any("overhead" in w for w in warnings)


def test_gloo_collectives_give_no_gpu_link() -> None:
    bench = gpu_bench()
    bench.results[2] = result("collectives", collective_rows("gloo", 2))
    profile, warnings = calibrate(bench, load_catalog(), "gpu.json")
    assert "intra_node" not in profile.links
    assert any("not nccl" in w for w in warnings)


def test_results_from_another_cpu_are_refused() -> None:
    bench = BenchFile(
        created=DAY,
        config=RunConfig(quick=True, device="cpu", nproc=2, threads=2),
        env=env("cpu").model_copy(update={"cpu_model": "Some Other CPU"}),
        results=[],
    )
    with pytest.raises(DataError, match="calibrate there"):
        calibrate(bench, load_catalog(), "x.json")


def test_unknown_gpu_name_asks_for_accelerator() -> None:
    bench = gpu_bench()
    bench.env.devices[0] = DeviceInfo(index=0, name="Mystery Accelerator 9000")
    with pytest.raises(DataError, match="--accelerator"):
        calibrate(bench, load_catalog(), "x.json")
    profile, _ = calibrate(bench, load_catalog(), "x.json", accelerator="H100")
    assert profile.accelerator == "h100-sxm5-80gb"


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_profile_round_trip(tmp_path: Path, suffix: str) -> None:
    profile, _ = calibrate(gpu_bench(), load_catalog(), "gpu.json")
    path = tmp_path / f"profile{suffix}"
    write_profile(profile, path)
    back = load_profile(path)
    assert back == profile
    assert isinstance(back, DeviceProfile)


def test_load_profile_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(yaml.safe_dump({"id": "x", "accelerator": "cpu", "matmul": {"fp32": {}}}))
    with pytest.raises(DataError, match=r"p.yaml: matmul.fp32.max_efficiency: Field required"):
        load_profile(bad)
    bad.write_text("id: [unclosed")
    with pytest.raises(DataError, match=r"p.yaml:2:1: YAML syntax error"):
        load_profile(bad)
    with pytest.raises(DataError, match="not found"):
        load_profile(tmp_path / "missing.json")
    wrapped = tmp_path / "cat.yaml"
    wrapped.write_text(yaml.safe_dump({"profiles": [{"id": "p", "accelerator": "cpu"}]}))
    assert load_profile(wrapped).id == "p"


def test_cli_calibrate_writes_a_valid_profile(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = tmp_path / "bench.json"
    write_record(results, gpu_bench())
    out = tmp_path / "profile.json"
    r = cli("calibrate", results, "--out", out, "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["accelerator"] == "h100-sxm5-80gb"
    assert load_profile(out).links["intra_node"].bus_bandwidth_gbs.value == pytest.approx(40.0)


def test_cli_calibrate_user_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    results = tmp_path / "bench.json"
    write_record(results, gpu_bench())
    r = cli("calibrate", results, "--out", tmp_path / "nope" / "p.json")
    assert_user_error(r, 2, "--out")
    results.write_text('{"schema_version": 1}')
    r = cli("calibrate", results, "--out", tmp_path / "p.json")
    assert_user_error(r, 1, "bench.json", "created")
    r = cli("calibrate", tmp_path / "missing.json", "--out", tmp_path / "p.json")
    assert_user_error(r, 1, "not found")


def test_optimizer_fit_separates_a_per_tensor_time() -> None:
    from advisor.calibrate import fit_count_and_rate

    c, bw = 20e-6, 10e9
    tensors, nbytes = [40, 64, 88], [28.0 * 2e6, 28.0 * 8e6, 28.0 * 2.5e7]
    got = fit_count_and_rate(
        tensors, nbytes, [c * n + x / bw for n, x in zip(tensors, nbytes, strict=True)]
    )
    assert got == pytest.approx((c, bw), rel=1e-9)
    with pytest.raises(ValueError):
        fit_count_and_rate([10, 20], [1.0, 2.0], [1e-3, 2e-3])  # counts and sizes in proportion


def cpu_bench(probe_s: float) -> BenchFile:
    """A CPU run with everything the step model uses, and a probe step of `probe_s`."""
    from advisor.benchmarks.overhead import PROBE

    fill_gbs, fresh_gbs, fresh_from = 50.0, 5.0, 2**23
    membw = []
    for n in (2**14, 2**17, 2**20, 2**23, 2**25):
        t_fill = 4.0 * n / fill_gbs / 1e9
        t_alloc = t_fill + (4.0 * n / fresh_gbs / 1e9 if n >= fresh_from else 0.1 * t_fill)
        for kernel, t in (("copy", 2 * t_fill), ("fill", t_fill), ("alloc", t_alloc)):
            moved = (2 if kernel == "copy" else 1) * 4.0 * n
            membw.append(BandwidthRow(kernel=kernel, dtype="fp32", elements=n, bytes_moved=moved,
                                      time=stats(t), gbs=moved / t / 1e9))  # fmt: skip
    adam = []
    for tensors, params in ((40, 2_000_000), (64, 8_000_000)):
        t = 20e-6 * tensors + 28.0 * params / 10e9
        adam.append(OptimizerRow(optimizer="adamw", impl="for-loop", default_impl=True,
                                 params=params, tensors=tensors, bytes_moved=28.0 * params,
                                 time=stats(t), gbs=28.0 * params / t / 1e9))  # fmt: skip
    overhead = [OverheadRow(device="cpu", precision="fp32", model=PROBE, params=30_000,
                            baseline_bytes=0, peak_bytes=1e8, tensor_bytes=16 * 30_000,
                            overhead_bytes=1e8 - 16 * 30_000, tokens=64, time=stats(probe_s))]  # fmt: skip
    return BenchFile(
        created=DAY,
        config=RunConfig(quick=True, device="cpu", nproc=2, threads=2),
        env=env("cpu"),
        results=[
            result("membw", membw),
            result("matmul", matmul_rows("fp32", 0.2, {64: 0.05, 512: 0.5, 2048: 0.8})),
            result("adam", adam),
            result("overhead", overhead),
            result("attention", attention_rows("fp32", 0.2)),
            result("elementwise", vector_rows("fp32")),
        ],
    )


def test_cpu_step_figures_recover_their_answers() -> None:
    import advisor.validate as v
    from advisor.benchmarks.overhead import PROBE

    cat = load_catalog()
    profile, _ = calibrate(cpu_bench(probe_s=5e-3), cat, "cpu.json")
    assert profile.optimizer_tensor_overhead_us.value == pytest.approx(20.0, rel=1e-6)
    ref = profile.memory_bandwidth_gbs.value
    assert profile.optimizer_bandwidth_efficiency.value == pytest.approx(10.0 / ref, rel=1e-6)
    assert profile.first_touch_gbs.value == pytest.approx(5.0, rel=1e-6)
    assert profile.first_touch_min_bytes.value == 4.0 * 2**23
    # The per-operator time makes the model reproduce the probe's measured step.
    assert profile.kernel_overhead_us is not None and profile.kernel_overhead_us.value > 0
    probe = v.predict(PROBE, "fp32", v.hardware(cat, profile)).step_time_s
    assert probe == pytest.approx(5e-3, rel=1e-3)
    # A probe already slower in the model than measured gets no negative overhead.
    fast, _ = calibrate(cpu_bench(probe_s=1e-7), cat, "cpu.json")
    assert fast.kernel_overhead_us.value == 0.0


def test_training_steps_give_per_operator_time_and_training_efficiency() -> None:
    import advisor.validate as v
    from advisor.benchmarks.allocator import shapes
    from advisor.benchmarks.harness import Context, quick_context
    from advisor.benchmarks.overhead import PROBE

    cat = load_catalog()
    base, _ = calibrate(cpu_bench(probe_s=5e-3), cat, "cpu.json")
    assert base.training_efficiency is None  # no allocator step to compare with
    fig = base.kernel_overhead_us.model_copy(update={"value": 30.0})
    truth = base.model_copy(
        update={
            "kernel_overhead_us": fig,
            "training_efficiency": fig.model_copy(update={"value": 0.8}),
        }
    )
    hw = v.hardware(cat, truth)
    (shape,) = shapes(quick_context(Context(device="cpu", quick=True)))
    t_probe = v.predict(PROBE, "fp32", hw).step_time_s
    t_step = v.predict(shape, "fp32", hw).step_time_s
    bench = cpu_bench(probe_s=t_probe)
    bench.results.append(
        result("allocator", [
            AllocatorRow(device="cpu", model=shape, params=1, allocated_bytes=3e8,
                         peak_bytes=4e8, time=stats(t_step))
        ])
    )  # fmt: skip
    got, _ = calibrate(bench, cat, "cpu.json")
    assert got.kernel_overhead_us.value == pytest.approx(30.0, rel=1e-3)
    assert got.training_efficiency.value == pytest.approx(0.8, rel=1e-3)


def stalled(rows: list, direction: str, factor: float) -> list:  # type: ignore[type-arg]
    """The rows with the given direction's times multiplied: a stall, as on a busy machine."""
    out = []
    for r in rows:
        if r.direction == direction:
            t = r.time.median_s * factor
            r = r.model_copy(update={"time": stats(t), "tflops": r.flops / t / 1e12})
        out.append(r)
    return out


def test_attention_backward_is_measured_alone_not_by_subtraction() -> None:
    # Issue 9: with the tiny benchmark sizes, forward+backward minus forward could be
    # negative when the forward measurement stalled, and the backward curve vanished.
    bench = gpu_bench()
    rows = attention_rows("bf16", H100_BF16_TFLOPS)
    alone = []
    for r in rows:
        if r.direction == "forward_backward":
            fwd = next(q for q in rows if q.direction == "forward" and q.seq_len == r.seq_len)
            t = r.time.median_s - fwd.time.median_s
            alone.append(r.model_copy(update={"direction": "backward", "flops": 2 * fwd.flops,
                                              "time": stats(t), "tflops": 2 * fwd.flops / t / 1e12}))  # fmt: skip
    bench.results[5] = result("attention", stalled(rows, "forward", 50.0) + alone)
    profile, _ = calibrate(bench, load_catalog(), "gpu.json")
    att_b = profile.attention_backward["bf16"]
    assert [pt[1] for pt in att_b.points] == pytest.approx(list(ATT_BWD.values()), rel=1e-4)


def test_a_link_whose_time_falls_with_size_is_kept_from_the_measurements() -> None:
    # Issue 9: a stalled small collective made the fit fail and the profile lost its link.
    bench = gpu_bench()
    rows = [
        r for r in collective_rows("nccl", 8) if r.bytes in (2**12, 2**16) and r.op == "all_reduce"
    ]
    rows = [
        r.model_copy(update={"time": stats(1.0)}) if r.bytes == 2**12 else r for r in rows
    ]  # two sizes, the smaller stalled for a second: time falls with size
    bench.results[2] = result("collectives", rows)
    profile, warnings = calibrate(bench, load_catalog(), "gpu.json")
    link = profile.links["intra_node"]
    assert link.bus_bandwidth_gbs.value == pytest.approx(max(r.busbw_gbs for r in rows), rel=1e-4)
    assert any("best measured bus bandwidth" in w for w in warnings)


def lora_row(precision: str, live: float, slack: float) -> LoraStepRow:
    shape = GPTShape(name="gpt-lora", layers=2, hidden=16, heads=2, vocab=32, seq_len=8)
    return LoraStepRow(impl="torch", precision=precision, model=shape, rank=2, alpha=16.0,
                       targets=["q"], params=100, trainable_params=10, tokens=8,
                       time=stats(0.1), tokens_per_s=80.0, peak_method="rss",
                       peak_bytes=0.6e9 + (1 + slack) * live, allocated_bytes=live, loss=1.0)  # fmt: skip


def test_lora_rows_give_their_own_allocator_slack() -> None:
    bench = gpu_bench()
    bench.results.append(
        result("lora", [lora_row("fp32", 2e9, 0.5), lora_row("bf16-autocast", 1e9, 0.7),
                        lora_row("fp32", 3e9, 0.6)])
    )  # fmt: skip
    profile, _ = calibrate(bench, load_catalog(), "gpu.json")
    lora = profile.lora_allocator_slack
    assert lora.value == pytest.approx(0.6)  # the median, against the larger overhead probe
    assert "gpt-lora 2L-16" in lora.note and "gpu.json" in lora.note
    assert lora.source == SOURCE
    assert profile.allocator_slack.value == pytest.approx(SLACK)  # full training's, unchanged
    assert gpu_bench_profile_without_lora().lora_allocator_slack is None


def gpu_bench_profile_without_lora() -> DeviceProfile:
    return calibrate(gpu_bench(), load_catalog(), "gpu.json")[0]


def test_each_precision_gets_its_own_training_efficiency(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """bf16 autocast steps run at another in-step speed than fp32 ones (measured on this
    CPU: 0.64 against 0.83 of the microbenchmarks); with an allocator step in each
    precision, calibrate fits the efficiency per precision with the per-operator time
    shared, and the step model uses the precision's own."""
    import advisor.validate as v
    from advisor.benchmarks.allocator import shapes
    from advisor.benchmarks.harness import Context, quick_context
    from advisor.benchmarks.overhead import PROBE

    cat = load_catalog()
    base, _ = calibrate(cpu_bench(probe_s=5e-3), cat, "cpu.json")
    fig = base.kernel_overhead_us.model_copy(update={"value": 30.0})
    (shape,) = shapes(quick_context(Context(device="cpu", quick=True)))
    truth = {"fp32": 0.8, "bf16": 0.5}
    rows, probes = [], {}
    for bench_p, p in v.PRECISIONS.items():
        eff = fig.model_copy(update={"value": truth[p]})
        hw = v.hardware(
            cat, base.model_copy(update={"kernel_overhead_us": fig, "training_efficiency": eff})
        )
        probes[bench_p] = v.predict(PROBE, bench_p, hw).step_time_s
        t = v.predict(shape, bench_p, hw).step_time_s
        rows.append(AllocatorRow(device="cpu", precision=bench_p, model=shape, params=1,
                                 allocated_bytes=3e8, peak_bytes=4e8, time=stats(t)))  # fmt: skip
    bench = cpu_bench(probe_s=probes["fp32"])
    for r in bench.results:
        if r.name == "overhead":
            r.rows = [
                row.model_copy(update={"time": stats(probes[row.precision])}) for row in r.rows
            ]
    bench.results.append(result("allocator", rows))
    got, _ = calibrate(bench, cat, "cpu.json")
    fits = got.step_fit_by_precision
    assert fits["fp32"].training_efficiency.value == pytest.approx(0.8, rel=0.02)
    assert fits["bf16"].training_efficiency.value == pytest.approx(0.5, rel=0.02)
    # The profile round-trips, and a bf16 step is predicted at bf16's efficiency.
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(got.model_dump(mode="json")))
    loaded = load_profile(path)
    hw = v.hardware(cat, loaded)
    want = v.predict(shape, "bf16-autocast", v.hardware(cat, base.model_copy(update={
        "kernel_overhead_us": fig, "training_efficiency": fig.model_copy(update={"value": 0.5})})))  # fmt: skip
    assert v.predict(shape, "bf16-autocast", hw).step_time_s == pytest.approx(
        want.step_time_s, rel=0.02
    )
