"""The distributed benchmarks under torchrun (2 processes, gloo) and the launcher's failure paths."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

import psutil

from advisor.benchmarks.busbw import bus_factor
from advisor.benchmarks.launcher import LaunchError, launch, parse_failure
from advisor.benchmarks.results import BenchResult, read_bench_file
from advisor.benchmarks.worker import FAULT_ENV

DIST = ["collectives", "ddp", "pipeline", "tensor_parallel", "fsdp"]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _no_strays(parts: Path) -> None:
    pids = [int(p.read_text()) for p in parts.glob("rank*.pid")]
    assert pids, "workers never started"
    assert not [p for p in pids if _alive(p)], "stray worker processes"


def test_bus_factors_follow_nccl_tests() -> None:
    assert bus_factor("all_reduce", 2) == 1.0
    assert bus_factor("all_reduce", 8) == 2 * 7 / 8
    assert bus_factor("all_gather", 4) == 3 / 4
    assert bus_factor("reduce_scatter", 1) == 0.0
    with pytest.raises(ValueError):
        bus_factor("broadcast", 2)


def test_every_distributed_benchmark_runs_on_two_processes(tmp_path: Path) -> None:
    got: list[BenchResult] = []
    launch(DIST, tmp_path, got.append, nproc=2, tiny=True, quick=True, deadline_s=120)
    by = {r.name: r for r in got}
    assert list(by) == DIST
    assert all(r.status == "ok" and r.rows for r in got), [(r.name, r.reason) for r in got]
    for row in by["collectives"].rows:
        assert row.backend == "gloo" and row.world_size == 2
        assert row.busbw_gbs == pytest.approx(row.algbw_gbs * bus_factor(row.op, 2))
    ddp = by["ddp"].rows
    assert [r.world_size for r in ddp] == [1, 2] and ddp[0].scaling_efficiency == 1.0
    # Tensor parallelism and FSDP change where the math runs, not the math: the same
    # seed and data give DDP's losses (TP: one process's; FSDP: two processes').
    assert by["tensor_parallel"].rows[0].loss == pytest.approx(ddp[0].loss, rel=1e-4)
    assert by["fsdp"].rows[0].loss == pytest.approx(ddp[1].loss, rel=1e-4)
    assert by["pipeline"].rows[0].world_size == 2
    _no_strays(tmp_path)


def test_killed_worker_ends_the_run_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "ddp:1")
    got: list[BenchResult] = []
    t0 = time.monotonic()
    with pytest.raises(LaunchError) as info:
        launch(["collectives", "ddp", "fsdp"], tmp_path, got.append, tiny=True, quick=True)
    assert time.monotonic() - t0 < 60
    msg = str(info.value)
    assert msg.startswith("ddp: rank 1") and "SIGKILL" in msg, msg
    assert info.value.benchmark == "ddp"
    assert [r.name for r in got] == ["collectives"]  # the finished one was handed over
    _no_strays(tmp_path)


def test_hung_worker_is_killed_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "collectives:1:hang")  # ignores SIGTERM: needs SIGKILL
    t0 = time.monotonic()
    # The deadline leaves the workers time to import torch on a loaded 2-core machine
    # (at 5 s they sometimes had not written their pid files yet).
    with pytest.raises(LaunchError, match="timed out"):
        launch(["collectives"], tmp_path, lambda r: None, tiny=True, deadline_s=15)
    assert time.monotonic() - t0 < 40
    _no_strays(tmp_path)


def test_worker_exception_is_reported_with_its_message(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"exited with code 1: ModuleNotFoundError"):
        launch(["no_such_benchmark"], tmp_path, lambda r: None, tiny=True)
    _no_strays(tmp_path)


SIGKILL_SUMMARY = """
benchmarks.worker FAILED
------------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-01_08:40:52
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 14414)  (SIGTERM)
  traceback : Signal 15 (SIGTERM) received by PID 14414
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-01_08:40:52
  host      : localhost
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 14415)  (SIGKILL)
  error_file: <N/A>
  traceback : Signal 9 (SIGKILL) received by PID 14415
============================================================
"""


def test_parse_failure_reads_the_root_cause() -> None:
    d = parse_failure(SIGKILL_SUMMARY)
    assert d is not None
    assert (d.rank, d.pid, d.exitcode, d.signal) == (1, 14415, -9, "SIGKILL")
    assert d.describe() == "rank 1 (pid 14415) was killed by SIGKILL (exit code -9)"
    no_name = SIGKILL_SUMMARY.replace("(SIGKILL)\n", "\n")
    assert parse_failure(no_name).signal == "SIGKILL"  # type: ignore[union-attr]
    assert parse_failure("all fine") is None


def test_parse_failure_prefers_the_worker_torchrun_did_not_terminate() -> None:
    # torchrun's "root cause" is the earliest timestamp; a survivor it SIGTERMed can win it.
    swapped = SIGKILL_SUMMARY.replace("rank      : 0", "rank      : X").replace(
        "rank      : 1", "rank      : 0"
    )
    swapped = swapped.replace("rank      : X", "rank      : 1")
    swapped = swapped.replace("-15 (pid: 14414)  (SIGTERM)", "-9 (pid: 14414)  (SIGKILL)", 1)
    swapped = swapped.replace("-9 (pid: 14415)  (SIGKILL)", "-15 (pid: 14415)  (SIGTERM)")
    d = parse_failure(swapped)
    assert d is not None and (d.rank, d.signal) == (1, "SIGKILL")
    all_term = SIGKILL_SUMMARY.replace("(SIGKILL)", "(SIGTERM)").replace("-9 (pid", "-15 (pid")
    d = parse_failure(all_term, first_dead=0)
    assert d is not None and d.rank == 0  # what the watchdog saw die first
    assert parse_failure(all_term).rank == 1  # type: ignore[union-attr]


def test_cli_keeps_earlier_results_when_a_worker_dies(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "ddp:0")
    out = tmp_path / "bench.json"
    r = cli("bench", "--tiny", "--only", "membw,collectives,ddp", "--out", out)
    assert r.code == 1
    last = r.err.strip().splitlines()[-1]
    assert last.startswith("advisor: error: ddp: rank 0") and "SIGKILL" in last, r.err
    assert "kept in" in last and "Traceback" not in r.err
    assert r.out == ""
    record = read_bench_file(out)
    assert not record.finished
    assert [(x.name, x.status) for x in record.results] == [
        ("membw", "ok"),
        ("collectives", "ok"),
        ("ddp", "failed"),
    ]
