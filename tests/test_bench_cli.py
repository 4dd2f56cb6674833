"""`advisor bench` through the CLI: every benchmark at tiny sizes, then calibrate; user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.benchmarks import BENCHMARKS
from advisor.benchmarks.results import BenchFile
from advisor.calibrate import load_profile
from tests.conftest import assert_user_error


def test_bench_then_calibrate_end_to_end(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    r = cli("bench", "--tiny", "--device", "cpu", "--nproc", "2", "--out", out)
    assert r.code == 0, r.err
    assert r.out == ""  # progress goes to stderr
    record = BenchFile.model_validate(json.loads(out.read_text()))  # the schema holds
    assert record.finished and [x.name for x in record.results] == list(BENCHMARKS)
    assert all(x.status == "ok" for x in record.results), [
        (x.name, x.reason) for x in record.results if x.status != "ok"
    ]
    assert record.env.torch_version and record.env.memory_bytes > 0
    profile_path = tmp_path / "profile.yaml"
    r = cli("calibrate", out, "--out", profile_path)
    assert r.code == 0, r.err
    p = load_profile(profile_path)
    assert p.accelerator == "cpu" and "fp32" in p.matmul
    assert p.memory_bandwidth is not None and p.memory_bandwidth_gbs is not None
    assert p.links["intra_node"].bus_bandwidth_gbs.value > 0
    assert p.optimizer_bandwidth_efficiency is not None
    assert p.framework_overhead_gb is not None and p.framework_overhead_gb.value > 0
    # What the CPU step model needs beyond matmuls, from the same run.
    assert "fp32" in p.attention and "fp32" in p.attention_backward
    assert p.vector_rates["fp32"].norm is not None
    assert p.kernel_overhead_us is not None and p.optimizer_tensor_overhead_us is None  # one size
    assert p.allocator_slack is not None
    assert "matmul fp32" in r.out and "per-operator time" in r.out


def test_unwritable_out_fails_before_any_benchmark(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("bench", "--quick", "--out", tmp_path / "missing" / "bench.json")
    assert_user_error(r, 2, "--out", "missing")
    r = cli("bench", "--quick", "--out", tmp_path)
    assert_user_error(r, 2, "--out")


def test_bench_usage_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "b.json"
    r = cli("bench", "--only", "matmull", "--out", out)
    assert_user_error(r, 2, "unknown benchmark 'matmull'", "did you mean 'matmul'")
    r = cli("bench", "--device", "tpu", "--out", out)
    assert_user_error(r, 2, "--device")
    r = cli("bench", "--only", " , ", "--out", out)
    assert_user_error(r, 2, "--only")
    assert not out.exists()


def test_bench_cuda_without_gpu_is_a_usage_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible; the no-GPU error cannot be provoked")
    r = cli("bench", "--device", "cuda", "--only", "matmul", "--out", tmp_path / "b.json")
    assert_user_error(r, 2, "no CUDA device")
