"""Start the distributed benchmarks under torchrun and watch them.

torchrun (`--standalone`, one node) starts one `advisor.benchmarks.worker` per rank.
This side polls three things until torchrun exits: new per-benchmark result
files (handed to `on_result` as they appear, so each is saved at once), worker
liveness (each rank leaves its pid), and a deadline. When a worker dies,
torchrun's agent stops the others and exits; the failure summary it prints
(its "Root Cause" section) names the rank, pid, exit code and signal. If the
agent does not finish within `grace_s` of a death, or the deadline passes,
this side kills torchrun's process group and every worker's own process group
(torchrun starts each worker in a session of its own), so nothing is left
running. No torch import happens here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from advisor.benchmarks.results import BenchResult

DEFAULT_GRACE_S = 15.0


@dataclass(frozen=True)
class WorkerDeath:
    """What torchrun's failure summary says about the first worker that failed."""

    rank: int | None
    pid: int | None
    exitcode: int | None
    signal: str | None
    detail: str | None

    def describe(self) -> str:
        who = f"rank {self.rank}" if self.rank is not None else "a worker"
        if self.pid is not None:
            who += f" (pid {self.pid})"
        if self.signal:
            return f"{who} was killed by {self.signal} (exit code {self.exitcode})"
        if self.exitcode is not None:
            tail = f": {self.detail}" if self.detail else ""
            return f"{who} exited with code {self.exitcode}{tail}"
        return f"{who} failed"


class LaunchError(Exception):
    """A distributed run that did not finish: which benchmark, what happened, the log's end."""

    def __init__(self, message: str, benchmark: str | None, log_tail: list[str]) -> None:
        super().__init__(message)
        self.benchmark = benchmark
        self.log_tail = log_tail


_BLOCK = re.compile(r"^\[\d+\]:\s*\n(?P<body>(?:^[ \t]+.*\n?)+)", re.M)


def _failure(body: str) -> WorkerDeath:
    """One '[i]:' block of torchrun's failure summary."""

    def field(name: str) -> str | None:
        f = re.search(rf"^\s*{name}\s*:\s*(.*)$", body, re.M)
        return f.group(1).strip() if f else None

    rank_s, exit_s, tb = field("rank"), field("exitcode"), field("traceback")
    r = re.match(r"\d+", rank_s or "")
    rank = int(r.group()) if r else None
    exitcode = pid = None
    sig = None
    e = re.match(r"(-?\d+)(?:\s*\(pid:\s*(\d+)\))?(?:\s*\((SIG\w+)\))?", exit_s or "")
    if e:
        exitcode = int(e.group(1))
        pid = int(e.group(2)) if e.group(2) else None
        sig = e.group(3)
    if sig is None and exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            sig = signal.Signals(-exitcode).name
    detail = None if tb in (None, "<N/A>") or (tb and tb.startswith("Signal")) else tb
    if detail and detail.startswith("Traceback"):  # the exception is the block's last line
        lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
        detail = lines[-1] if lines else None
    return WorkerDeath(rank, pid, exitcode, sig, detail)


def parse_failures(log: str) -> tuple[list[WorkerDeath], WorkerDeath | None]:
    """Every failed worker in torchrun's summary, and the one it calls the root cause."""
    if "Root Cause" not in log:
        return [], None
    head, _, tail = log.rpartition("Root Cause")
    others = [_failure(m.group("body")) for m in _BLOCK.finditer(head.split("Failures:")[-1])]
    roots = [_failure(m.group("body")) for m in _BLOCK.finditer(tail)]
    root = roots[0] if roots else None
    return ([root] if root else []) + others, root


def parse_failure(log: str, first_dead: int | None = None) -> WorkerDeath | None:
    """The worker that failed first.

    torchrun stops the survivors with SIGTERM and its "root cause" is the earliest
    timestamp, which a worker it terminated in the same second can win; so a
    failure that is not SIGTERM wins, then the rank this side saw die first."""
    failures, root = parse_failures(log)
    genuine = [f for f in failures if f.signal != "SIGTERM"]
    if genuine:
        return genuine[0]
    if first_dead is not None:
        seen = [f for f in failures if f.rank == first_dead]
        return seen[0] if seen else WorkerDeath(first_dead, None, None, None, None)
    return root


def torchrun_command(
    names: list[str],
    parts: Path,
    nproc: int,
    device: str,
    quick: bool,
    tiny: bool,
    threads: int | None,
    pg_timeout_s: float,
) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc-per-node={nproc}", "--max-restarts=0", "--monitor-interval=0.1"]
    cmd += ["-m", "advisor.benchmarks.worker", "--names", ",".join(names), "--parts", str(parts)]
    cmd += ["--device", device, "--timeout-s", str(pg_timeout_s)]
    if threads:
        cmd += ["--threads", str(threads)]
    if quick:
        cmd.append("--quick")
    if tiny:
        cmd.append("--tiny")
    return cmd


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _worker_pids(parts: Path) -> dict[int, int]:
    out: dict[int, int] = {}
    for f in parts.glob("rank*.pid"):
        with contextlib.suppress(ValueError, OSError):
            out[int(f.stem[4:])] = int(f.read_text().strip())
    return out


def _descendants(pid: int) -> set[int]:
    try:
        return {c.pid for c in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def kill_all(proc: subprocess.Popen[bytes], pids: set[int], wait_s: float = 3.0) -> None:
    """SIGTERM then SIGKILL torchrun's group, each worker's group and each known process."""
    own = os.getpgid(0)

    def signal_all(sig: int) -> None:
        groups = {proc.pid}
        for pid in pids:
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(pid))
        for g in groups - {own}:
            with contextlib.suppress(OSError):
                os.killpg(g, sig)
        for pid in pids | {proc.pid}:
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    if proc.poll() is None or any(_alive(p) for p in pids):
        signal_all(signal.SIGTERM)
        end = time.monotonic() + wait_s
        while time.monotonic() < end and (proc.poll() is None or any(_alive(p) for p in pids)):
            time.sleep(0.05)
        if proc.poll() is None or any(_alive(p) for p in pids):
            signal_all(signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=wait_s)


def _child_env(nproc: int, threads: int | None) -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent.parent)  # holds `advisor`
    path = os.environ.get("PYTHONPATH")
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([root, path]) if path else root,
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": str(threads or max(1, cores // nproc)),
    }


def launch(
    names: list[str],
    parts: Path,
    on_result: Callable[[BenchResult], None],
    *,
    nproc: int = 2,
    device: str = "cpu",
    quick: bool = False,
    tiny: bool = False,
    threads: int | None = None,
    pg_timeout_s: float = 60.0,
    deadline_s: float = 600.0,
    grace_s: float = DEFAULT_GRACE_S,
    poll_s: float = 0.1,
) -> None:
    """Run `names` in one torchrun launch; raise LaunchError naming what failed."""
    parts.mkdir(parents=True, exist_ok=True)
    log_path = parts / "torchrun.log"
    cmd = torchrun_command(names, parts, nproc, device, quick, tiny, threads, pg_timeout_s)
    delivered: set[str] = set()
    known: set[int] = set()

    def deliver() -> None:
        for f in sorted(parts.glob("part-*.json")):
            if f.name in delivered:
                continue
            delivered.add(f.name)
            on_result(BenchResult.model_validate(json.loads(f.read_text())))

    start = time.monotonic()
    death_seen: float | None = None
    first_dead: int | None = None
    reason: str | None = None
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_child_env(nproc, threads),
            start_new_session=True,
        )
        try:
            while proc.poll() is None:
                deliver()
                workers = _worker_pids(parts)
                known |= set(workers.values()) | _descendants(proc.pid)
                dead = [
                    (r, p)
                    for r, p in sorted(workers.items())
                    if not _alive(p) and not (parts / f"rank{r}.done").exists()
                ]
                now = time.monotonic()
                if dead and death_seen is None:
                    death_seen, first_dead = now, dead[0][0]
                if death_seen is not None and now - death_seen > grace_s:
                    r, p = dead[0] if dead else (None, None)
                    reason = f"rank {r} (pid {p}) died and torchrun did not stop the others"
                    break
                if now - start > deadline_s:
                    reason = f"timed out after {deadline_s:.0f} s"
                    break
                time.sleep(poll_s)
        finally:
            kill_all(proc, known | set(_worker_pids(parts).values()))
    deliver()
    if reason is None and proc.returncode == 0 and len(delivered) == len(names):
        return
    text = log_path.read_text(errors="replace")
    tail = text.strip().splitlines()[-20:]
    running = names[len(delivered)] if len(delivered) < len(names) else None
    if reason is None:
        death = parse_failure(text, first_dead)
        reason = death.describe() if death else f"torchrun exited with code {proc.returncode}"
    where = f"{running}: " if running else ""
    raise LaunchError(f"{where}{reason}", running, tail)
