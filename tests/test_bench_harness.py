"""The benchmark harness: statistics, timing loop, records and atomic writes (no torch needed)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from advisor.benchmarks import BENCHMARKS, names
from advisor.benchmarks.harness import measure, summarize
from advisor.benchmarks.results import (
    BenchFile,
    BenchResult,
    Environment,
    MatmulRow,
    RunConfig,
    atomic_write_text,
    check_writable,
    read_bench_file,
    write_record,
)


def test_summarize_known_samples() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0, 10.0], warmup=2, inner=3)
    assert s.median_s == 3.0
    assert s.mean_s == 4.0
    assert (s.min_s, s.max_s) == (1.0, 10.0)
    assert s.iqr_s == pytest.approx(4.0 - 2.0)  # numpy linear percentiles: q1 2, q3 4
    assert s.spread == pytest.approx(2.0 / 3.0)
    assert s.stdev_s == pytest.approx(3.5355339, rel=1e-6)
    assert (s.warmup, s.repeats, s.inner) == (2, 5, 3)


def test_summarize_one_sample_and_bad_input() -> None:
    s = summarize([0.5], warmup=0)
    assert (s.median_s, s.stdev_s, s.iqr_s, s.spread) == (0.5, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        summarize([], warmup=0)
    with pytest.raises(ValueError):
        summarize([1.0, 0.0], warmup=0)
    with pytest.raises(ValueError):
        summarize([1.0, float("nan")], warmup=0)


class Clock:
    """A fake function: each call advances a fake perf_counter by `cost` seconds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cost: float) -> None:
        self.now = 0.0
        self.calls = 0
        self.cost = cost
        import advisor.benchmarks.harness as h

        monkeypatch.setattr(h, "perf_counter", lambda: self.now)

    def __call__(self) -> None:
        self.calls += 1
        self.now += self.cost


def test_measure_warmup_repeats_and_inner(monkeypatch: pytest.MonkeyPatch) -> None:
    fn = Clock(monkeypatch, cost=2.0**-13)  # binary fractions: the clock sums exactly
    s = measure(fn, warmup=3, repeats=4, max_seconds=None, target_sample_s=2.0**-10)
    # 3 warm-up calls, one probe call, then 4 samples of 8 calls each (2^-10 / 2^-13)
    assert s.inner == 8
    assert s.repeats == 4
    assert fn.calls == 3 + 1 + 4 * 8
    assert s.median_s == 2.0**-13


def test_measure_stops_on_budget_but_keeps_min_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    fn = Clock(monkeypatch, cost=1.0)
    s = measure(fn, warmup=1, repeats=100, min_repeats=3, max_seconds=0.5, target_sample_s=0)
    assert s.repeats == 3  # the probe sample plus two more: the budget stops it at min_repeats
    fixed = measure(fn, warmup=0, repeats=6, min_repeats=6, max_seconds=None, inner=1)
    assert fixed.repeats == 6


def test_measure_real_clock_is_positive() -> None:
    s = measure(lambda: sum(range(1000)), warmup=1, repeats=3, max_seconds=0.2)
    assert s.median_s > 0 and s.min_s <= s.median_s <= s.max_s


def test_measure_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        measure(lambda: None, repeats=0)


def _file(tmp_path: Path) -> BenchFile:
    env = Environment(
        hostname="h",
        platform="p",
        python="3.11",
        cpu_model="cpu",
        cpu_cores_physical=2,
        cpu_cores_logical=2,
        cpu_flags=[],
        memory_bytes=1,
        device="cpu",
    )
    stats = summarize([1e-3, 2e-3, 3e-3], warmup=1)
    row = MatmulRow(
        dtype="fp32", mode="native", m=2, n=2, k=2, flops=16, time=stats, tflops=16 / 2e-3 / 1e12
    )
    result = BenchResult(
        name="matmul",
        status="ok",
        device="cpu",
        started=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        wall_s=1.0,
        rows=[row],
    )
    return BenchFile(
        created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        config=RunConfig(quick=True, device="cpu", nproc=2, threads=2),
        env=env,
        results=[result],
    )


def test_bench_file_round_trip_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    write_record(path, _file(tmp_path))
    back = read_bench_file(path)
    assert back.results[0].rows[0].kind == "matmul"
    assert back.result("matmul") is not None and back.result("nope") is None
    schema = BenchFile.model_json_schema()
    assert "results" in schema["properties"]
    raw = json.loads(path.read_text())
    raw["results"][0]["rows"][0]["kind"] = "bogus"
    with pytest.raises(ValidationError):
        BenchFile.model_validate(raw)
    raw["results"][0]["rows"][0]["kind"] = "matmul"
    raw["results"][0]["rows"][0]["extra"] = 1
    with pytest.raises(ValidationError):
        BenchFile.model_validate(raw)


def test_atomic_write_replaces_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_write_failure_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.json"
    atomic_write_text(path, "old")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_check_writable(tmp_path: Path) -> None:
    check_writable(tmp_path / "new.json")
    with pytest.raises(OSError):
        check_writable(tmp_path / "missing" / "x.json")
    with pytest.raises(OSError):
        check_writable(tmp_path)
    assert not list(tmp_path.iterdir())  # the probe leaves nothing behind


def test_registry_lists_every_benchmark_module() -> None:
    root = Path(__file__).resolve().parent.parent / "advisor" / "benchmarks"
    for name in BENCHMARKS:
        assert (root / f"{name}.py").is_file(), name
    assert set(names("local")) | set(names("dist")) == set(BENCHMARKS)


def test_importing_the_cli_and_benchmarks_registry_imports_no_torch() -> None:
    code = (
        "import sys, advisor.cli.app, advisor.calibrate, advisor.validate, advisor.benchmarks, "
        "advisor.benchmarks.results, advisor.benchmarks.launcher, advisor.benchmarks.train_step; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
