"""Run a list of benchmarks and keep the results file current after each one.

Local benchmarks run in this process one after another; the distributed ones
run together in one torchrun launch (advisor/benchmarks/launcher.py), each saved as
soon as rank 0 reports it. The file is rewritten atomically after every
benchmark, so an interrupted or failed run keeps everything that finished.
"""

from __future__ import annotations

import datetime as dt
import importlib
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from advisor.benchmarks import BENCHMARKS
from advisor.benchmarks.harness import Context, Skip
from advisor.benchmarks.launcher import LaunchError, launch
from advisor.benchmarks.results import BenchFile, BenchResult, write_record

Progress = Callable[[str, BenchResult | None], None]  # (name, None) on start, result on end


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_local(name: str, ctx: Context) -> BenchResult:
    """One in-process benchmark; a Skip or an exception becomes its status."""
    started, t0 = _now(), time.perf_counter()
    module = importlib.import_module(f"advisor.benchmarks.{name}")
    try:
        outcome = module.run(ctx)
        status, reason, rows, notes = "ok", None, outcome.rows, outcome.notes
    except Skip as e:
        status, reason, rows, notes = "skipped", str(e), [], []
    except Exception as e:  # a broken benchmark must not lose the others' results
        last = traceback.format_exception_only(e)[-1].strip()
        status, reason, rows, notes = "failed", last, [], []
    return BenchResult(
        name=name,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        device=ctx.device,
        started=started,
        wall_s=time.perf_counter() - t0,
        rows=rows,
        notes=notes,
    )


class SuiteFailed(Exception):
    """A distributed launch failed; the results file holds what finished."""


def run_suite(
    names: list[str],
    ctx: Context,
    record: BenchFile,
    out: Path,
    progress: Progress | None = None,
    deadline_s: float = 900.0,
    pg_timeout_s: float = 60.0,
) -> BenchFile:
    """Run `names` (local first, then distributed), writing `out` after each."""
    t0 = time.perf_counter()
    note = progress or (lambda name, result: None)

    def save(result: BenchResult) -> None:
        record.results.append(result)
        record.wall_s = time.perf_counter() - t0
        write_record(out, record)
        note(result.name, result)

    write_record(out, record)
    for name in [n for n in names if BENCHMARKS[n][0] == "local"]:
        note(name, None)
        save(run_local(name, ctx))
    dist_names = [n for n in names if BENCHMARKS[n][0] == "dist"]
    if dist_names:
        _run_dist(dist_names, ctx, save, note, deadline_s, pg_timeout_s)
    record.finished = True
    record.wall_s = time.perf_counter() - t0
    write_record(out, record)
    return record


def _run_dist(
    names: list[str],
    ctx: Context,
    save: Callable[[BenchResult], None],
    note: Progress,
    deadline_s: float,
    pg_timeout_s: float,
) -> None:
    parts = Path(tempfile.mkdtemp(prefix="advisor-bench-dist-"))
    pending = list(names)
    started, t0 = _now(), time.perf_counter()

    def on_result(result: BenchResult) -> None:
        nonlocal started, t0
        if result.name in pending:
            pending.remove(result.name)
        save(result)
        started, t0 = _now(), time.perf_counter()
        if pending:
            note(pending[0], None)

    note(pending[0], None)
    try:
        launch(
            names,
            parts,
            on_result,
            nproc=ctx.nproc,
            device=ctx.device,
            quick=ctx.quick,
            tiny=ctx.tiny,
            threads=None,
            pg_timeout_s=pg_timeout_s,
            deadline_s=deadline_s,
        )
    except LaunchError as e:
        name = e.benchmark or (pending[0] if pending else names[-1])
        save(
            BenchResult(
                name=name,
                status="failed",
                reason=str(e),
                device=f"{ctx.device} x {ctx.nproc}",
                started=started,
                wall_s=time.perf_counter() - t0,
                notes=["torchrun log (end):", *e.log_tail],
            )
        )
        raise SuiteFailed(str(e)) from e
    finally:
        shutil.rmtree(parts, ignore_errors=True)
