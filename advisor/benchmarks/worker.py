"""Entry point of the distributed benchmarks, one process per rank under torchrun.

Locally `advisor bench` starts it through advisor/benchmarks/launcher.py:

    torchrun --standalone --nproc-per-node 2 -m advisor.benchmarks.worker \\
        --names collectives,ddp --parts DIR [--quick] [--device cuda]

On several nodes run the same command on each node with torchrun's rendezvous
(`--nnodes N --rdzv-backend c10d --rdzv-endpoint HOST:PORT` instead of
`--standalone`). Each rank writes `rank<R>.pid` into DIR when it starts and
`rank<R>.done` when it ends cleanly; rank 0 writes one `part-<i>-<name>.json`
(a BenchResult) as each benchmark finishes, so what finished survives a crash.
The process group is created with a short timeout, so a collective waiting on
a dead peer fails instead of hanging.

For tests, ADVISOR_BENCH_FAULT=NAME:RANK makes that rank SIGKILL itself half a
second into benchmark NAME, while its peers wait in a collective; NAME:RANK:hang
makes it hang instead, ignoring SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import signal
import sys
import time
from pathlib import Path

FAULT_ENV = "ADVISOR_BENCH_FAULT"


def part_path(parts: Path, index: int, name: str) -> Path:
    return parts / f"part-{index:02d}-{name}.json"


def _maybe_fault(name: str, rank: int) -> None:
    """Test hook: NAME:RANK kills that rank; NAME:RANK:hang makes it hang, deaf to SIGTERM."""
    spec = os.environ.get(FAULT_ENV, "")
    if not spec:
        return
    bench, who, mode = ([*spec.split(":"), ""])[:3]
    if bench != name or who.strip() != str(rank):
        return
    if mode == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGKILL)


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m advisor.benchmarks.worker")
    ap.add_argument("--names", required=True, help="comma-separated distributed benchmarks")
    ap.add_argument("--parts", required=True, type=Path, help="folder for results and pid files")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--timeout-s", type=float, default=60.0, help="process-group timeout")
    return ap.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    args = _args(argv)
    rank = int(os.environ.get("RANK", "0"))
    args.parts.mkdir(parents=True, exist_ok=True)
    (args.parts / f"rank{rank}.pid").write_text(str(os.getpid()))

    import warnings

    import torch
    import torch.distributed as dist

    from advisor.benchmarks import dist as bdist
    from advisor.benchmarks.harness import Context, Skip, quick_context, set_threads, tiny_context
    from advisor.benchmarks.results import BenchResult, write_record

    warnings.filterwarnings("ignore")
    env = bdist.init(args.device == "cuda", args.timeout_s)
    threads = set_threads(args.threads) if not env.is_cuda else torch.get_num_threads()
    ctx = Context(device=env.device, threads=threads, nproc=env.world, quick=args.quick)
    ctx = tiny_context(ctx) if args.tiny else (quick_context(ctx) if args.quick else ctx)
    for index, name in enumerate(n for n in args.names.split(",") if n):
        module = importlib.import_module(f"advisor.benchmarks.{name}")
        started = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        dist.barrier()
        _maybe_fault(name, rank)
        try:
            outcome = module.run_dist(ctx, env)
            status, reason, rows, notes = "ok", None, outcome.rows, outcome.notes
        except Skip as e:  # decided identically on every rank
            status, reason, rows, notes = "skipped", str(e), [], []
        dist.barrier()
        if rank == 0:
            result = BenchResult(
                name=name,
                status=status,  # type: ignore[arg-type]
                reason=reason,
                device=f"{env.device} x {env.world} ({env.backend})",
                started=started,
                wall_s=time.perf_counter() - t0,
                rows=rows,
                notes=notes,
            )
            write_record(part_path(args.parts, index, name), result)
    dist.destroy_process_group()
    (args.parts / f"rank{rank}.done").write_text("ok")
    return 0


def main() -> None:
    from torch.distributed.elastic.multiprocessing.errors import record

    sys.exit(record(run)())


if __name__ == "__main__":
    main()
