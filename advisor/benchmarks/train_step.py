"""Real training steps of the small GPT in a fresh process: step time and peak memory.

`python -m advisor.benchmarks.train_step --request JSON --out FILE` builds the model,
trains it for a few steps and writes a `TrainMeasurement`. A fresh process is
what makes the peak honest: on CPU the peak resident set (Linux VmHWM, reset
through /proc/self/clear_refs right after `import torch`) minus the resident
set at that moment is the memory training needed, framework work buffers and
allocator slack included; nothing an earlier benchmark allocated is in it.
With `live_peak`, one more step runs under the profiler afterwards for the
peak bytes of live tensors alone (what the allocator slack is measured against).
`run_in_subprocess` is the launching side and imports no torch.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from advisor.benchmarks.results import TrainMeasurement, TrainRequest, write_record


def _status_kb(field: str) -> float | None:
    """A field of /proc/self/status in bytes (Linux), else None."""
    path = Path("/proc/self/status")
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) * 1024
    return None


def rss_bytes() -> float:
    now = _status_kb("VmRSS")
    if now is not None:
        return now
    import psutil

    return float(psutil.Process().memory_info().rss)


def reset_peak_rss() -> bool:
    """Reset the peak resident set to the current one (Linux >= 4.0); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> float:
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale)


def _storage_bytes(tensors: list[Any]) -> float:
    """Bytes of the distinct storages behind `tensors`."""
    seen: dict[int, int] = {}
    for t in tensors:
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
    return float(sum(seen.values()))


def live_peak_bytes(step: Any) -> float | None:
    """Peak bytes of live tensors over one more training step on CPU: what is alive when
    it starts (weights, optimizer state, the batch; gradients were set to None) plus the
    highest running sum of the profiler's allocation events during it. None where the
    profiler does not report allocations."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    model, opt = step.model, step.opt
    alive = [*model.parameters(), step.x, step.y]
    alive += [v for state in opt.state.values() for v in state.values() if torch.is_tensor(v)]
    static = _storage_bytes(alive)
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
        events = prof.profiler.kineto_results.events()  # type: ignore[union-attr]
        deltas = sorted(
            (e.start_ns(), e.nbytes())
            for e in events
            if e.name() == "[memory]" and str(e.device_type()).endswith("CPU")
        )
    except (AttributeError, RuntimeError):  # profiler internals differ in this torch
        return None
    if not deltas:
        return None
    running = peak = 0
    for _, n in deltas:
        running += n
        peak = max(peak, running)
    return static + float(peak)


def measure_training(req: TrainRequest) -> TrainMeasurement:
    import torch

    from advisor.benchmarks.gpt import GPT, batch, param_count
    from advisor.benchmarks.harness import measure, set_threads
    from advisor.benchmarks.training import TrainStep

    threads = set_threads(req.threads) if req.device == "cpu" else None
    cuda = req.device == "cuda"
    if cuda:
        torch.cuda.init()
        torch.cuda.reset_peak_memory_stats()
    gc.collect()
    baseline = 0.0 if cuda else rss_bytes()
    reset = False if cuda else reset_peak_rss()
    torch.manual_seed(req.seed)
    model = GPT(req.model).to(req.device)
    impl = trainable = None
    optimizer = None
    if req.lora is not None:
        from advisor.benchmarks.lora_model import apply_lora, trainable_count

        model, impl = apply_lora(model, req.lora)
        trainable = trainable_count(model)
        adapters = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(adapters, lr=1e-3)
    x, y = batch(req.model, req.device, req.seed)
    step = TrainStep(model, x, y, req.precision, req.device, optimizer)
    step()
    loss_first = step.loss()
    stats = measure(
        step,
        req.device,
        warmup=req.warmup - 1,
        repeats=req.steps,
        min_repeats=req.steps,
        max_seconds=None,
        inner=1,
    )
    loss_last = step.loss()
    allocated = None
    if cuda:
        torch.cuda.synchronize()
        free, total = torch.cuda.mem_get_info()
        context = (total - free) - torch.cuda.memory_reserved()
        peak = float(torch.cuda.max_memory_reserved() + max(0, context))
        allocated = float(torch.cuda.max_memory_allocated())
        method = "cuda: max_memory_reserved + context (device in use - reserved)"
    else:
        peak = peak_rss_bytes() - baseline
        method = "VmHWM - VmRSS after import torch" if reset else "ru_maxrss - RSS after import"
        if req.live_peak:  # after the peak is read: the profiler's own memory is not in it
            allocated = live_peak_bytes(step)
    return TrainMeasurement(
        request=req,
        params=param_count(model),
        tokens=req.model.batch * req.model.seq_len,
        time=stats,
        baseline_bytes=baseline,
        peak_bytes=peak,
        peak_method=method,
        peak_allocated_bytes=allocated,
        threads=threads,
        trainable_params=trainable,
        lora_impl=impl,  # type: ignore[arg-type]
        loss_first=loss_first,
        loss_last=loss_last,
    )


def run_in_subprocess(req: TrainRequest, timeout_s: float = 600) -> TrainMeasurement:
    """Run `measure_training` in a fresh interpreter and read its record back."""
    with tempfile.TemporaryDirectory(prefix="advisor-train-") as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "PYTHONPATH": _import_root(os.environ.get("PYTHONPATH"))}
        if req.threads:
            env["OMP_NUM_THREADS"] = str(req.threads)
        cmd = [sys.executable, "-m", "advisor.benchmarks.train_step"]
        cmd += ["--request", req.model_dump_json(), "--out", str(out)]
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            what = f"{req.precision}, LoRA" if req.lora else req.precision
            raise RuntimeError(
                f"training worker for {req.model.name} ({what}) failed "
                f"with exit code {proc.returncode}: {tail[0]}"
            )
        return TrainMeasurement.model_validate(json.loads(out.read_text()))


def _import_root(existing: str | None) -> str:
    """PYTHONPATH that lets a child import `advisor.benchmarks` the way this process did."""
    root = str(Path(__file__).resolve().parent.parent.parent)  # holds `advisor`
    return os.pathsep.join([root, existing]) if existing else root


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m advisor.benchmarks.train_step")
    ap.add_argument("--request", required=True, help="TrainRequest as JSON")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    req = TrainRequest.model_validate_json(args.request)
    write_record(args.out, measure_training(req))
    return 0


if __name__ == "__main__":
    sys.exit(main())
