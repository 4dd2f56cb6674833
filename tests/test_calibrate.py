"""Calibration: fitting synthetic benchmark results whose answers are known."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

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
from benchmarks.collectives import bus_factor
from benchmarks.harness import summarize
from benchmarks.results import (
    BandwidthRow,
    BenchFile,
    BenchResult,
    CollectiveRow,
    DeviceInfo,
    Environment,
    GPTShape,
    MatmulRow,
    OptimizerRow,
    OverheadRow,
    RunConfig,
    write_record,
)
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
