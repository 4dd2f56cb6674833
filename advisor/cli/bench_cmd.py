"""`advisor bench`: run the microbenchmark suite on this machine and save the results."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from advisor.errors import DataError, UsageError, nearest

DEVICES = ("auto", "cpu", "cuda", "mps")


def _names(only: str | None) -> list[str]:
    from advisor.benchmarks import BENCHMARKS

    if not only:
        return list(BENCHMARKS)
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    for n in wanted:
        if n not in BENCHMARKS:
            hint = nearest(n, list(BENCHMARKS))
            tail = f"; did you mean '{hint}'?" if hint else f"; choose from {', '.join(BENCHMARKS)}"
            raise UsageError(f"--only: unknown benchmark '{n}'{tail}")
    if not wanted:
        raise UsageError("--only: give at least one benchmark name")
    return [n for n in BENCHMARKS if n in wanted]


def _check_out(out: Path) -> None:
    from advisor.benchmarks.results import check_writable

    try:
        check_writable(out)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write there ({e})") from e


def _progress(total: int) -> Any:
    """A progress bar on stderr (stdout stays clean) and the callback that moves it."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task("bench", total=total)

    def note(name: str, result: Any) -> None:
        if result is None:
            bar.update(task, description=f"bench: {name}")
            return
        tail = f" ({result.reason})" if result.reason else ""
        bar.console.print(f"  {name}: {result.status} in {result.wall_s:.1f} s{tail}")
        bar.advance(task)

    return bar, note


def bench(
    out: Annotated[Path, typer.Option("--out", "-o", help="Results file (JSON).")],
    quick: Annotated[
        bool, typer.Option("--quick", help="Small sizes: the suite in about a minute.")
    ] = False,
    only: Annotated[
        str | None, typer.Option("--only", help="Comma-separated benchmark names.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    nproc: Annotated[
        int, typer.Option(min=1, max=1024, help="Processes for distributed benchmarks.")
    ] = 2,
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads; default: physical cores.")
    ] = None,
    scratch: Annotated[
        Path | None, typer.Option(help="Folder for the storage scratch file; default: --out's.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=5, help="Seconds a collective may wait on a peer.")
    ] = 60.0,
    tiny: Annotated[bool, typer.Option("--tiny", hidden=True, help="Tests: tiny sizes.")] = False,
) -> None:
    """Measure this machine: matmul, attention, optimizer, memory, collectives, training."""
    names = _names(only)
    dev = device.strip().lower()
    if dev not in DEVICES:
        raise UsageError(f"--device: unknown device '{device}'; choose from {', '.join(DEVICES)}")
    _check_out(out)
    folder = scratch or out.parent
    if not folder.is_dir():
        raise UsageError(f"--scratch {folder}: not a folder")
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise DataError("advisor bench needs torch: pip install 'advisor[bench]'") from e
    from advisor.benchmarks.env import environment
    from advisor.benchmarks.harness import (
        Context,
        quick_context,
        resolve_device,
        set_threads,
        tiny_context,
    )
    from advisor.benchmarks.results import BenchFile, RunConfig
    from advisor.benchmarks.runner import SuiteFailed, run_suite

    try:
        dev = resolve_device(dev)
    except ValueError as e:
        raise UsageError(str(e)) from e
    used = set_threads(threads)
    ctx = Context(device=dev, quick=quick, threads=used, nproc=nproc, scratch=folder)
    if tiny:
        ctx = tiny_context(ctx)
    elif quick:
        ctx = quick_context(ctx)
    record = BenchFile(
        created=dt.datetime.now(dt.UTC),
        config=RunConfig(
            quick=quick or tiny, device=dev, nproc=nproc, threads=used, only=only and names
        ),
        env=environment(dev, used),
    )
    bar, note = _progress(len(names))
    t0 = time.perf_counter()
    try:
        with bar:
            deadline = 300.0 if (quick or tiny) else 3600.0  # the distributed part, at most
            run_suite(names, ctx, record, out, note, deadline_s=deadline, pg_timeout_s=timeout)
    except SuiteFailed as e:
        done = sum(r.status != "failed" for r in record.results)
        raise DataError(f"{e}; the {done} finished benchmark(s) are kept in {out}") from e
    failed = [r.name for r in record.results if r.status == "failed"]
    sys.stderr.write(
        f"advisor bench: {len(record.results)} benchmarks in {time.perf_counter() - t0:.1f} s "
        f"on {dev}; results in {out}\n"
    )
    if failed:
        raise DataError(f"benchmark(s) failed: {', '.join(failed)}; see their 'reason' in {out}")
