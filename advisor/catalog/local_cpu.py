"""Figures of the local processor, read from this machine at run time.

Peak FP32 = cores x clock x FLOPs/cycle/core, FLOPs/cycle = FMA pipes x lanes x 2
(hardware-facts.md §5, the same form as MLE-ACC's accelerator formula). The FMA
pipe count per SKU is not published in our sources, so two pipes are assumed
for AVX2 and AVX-512 and the figure says so. AMX-BF16 gives 1024 BF16
ops/cycle/core (Intel, via wikimili "Advanced Matrix Extensions").
"""

from __future__ import annotations

import datetime as dt
import functools
import platform
from pathlib import Path

from advisor.catalog.schema import Accelerator, Cpu, Figure

SOURCE = "LOCAL"


@functools.lru_cache(maxsize=1)
def cpu_facts() -> dict[str, object]:
    """Model name, physical cores, clock (GHz), flags and memory of this machine."""
    import psutil

    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    mhz: float | None = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key == "flags" and not flags:
                flags = set(val.split())
            elif key == "model name" and val.strip():
                model = val.strip()
            elif key == "cpu MHz" and mhz is None:
                try:
                    mhz = float(val)
                except ValueError:
                    mhz = None
    freq = psutil.cpu_freq()
    if freq is not None and freq.max:
        mhz = freq.max
    elif mhz is None and freq is not None and freq.current:
        mhz = freq.current
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    return {
        "model": model,
        "cores": int(cores),
        "ghz": (mhz or 0.0) / 1000.0,
        "flags": frozenset(flags),
        "memory_bytes": int(psutil.virtual_memory().total),
    }


def fp32_flops_per_cycle(flags: frozenset[str] | set[str]) -> tuple[int, str]:
    """FP32 FLOPs per cycle per core from the vector ISA, and the assumption made."""
    if "avx512f" in flags:
        return 64, "AVX-512, 2 FMA pipes assumed: 2 x 16 lanes x 2"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2 + FMA, 2 FMA pipes assumed: 2 x 8 lanes x 2"
    if "avx" in flags:
        return 16, "AVX without FMA: 8 lanes x 2 (add + mul pipes)"
    if "asimd" in flags or platform.machine() in ("arm64", "aarch64"):
        return 16, "NEON, 2 x 128-bit FMA pipes assumed: 2 x 4 lanes x 2"
    return 8, "SSE: 4 lanes x 2"


def _fig(value: float, note: str) -> Figure:
    return Figure(value=value, source=SOURCE, as_of=dt.date.today(), note=note, derived=True)


def local_cpu(entry: Cpu) -> Cpu:
    """The catalog's `cpu` entry with this machine's figures filled in."""
    f = cpu_facts()
    per_cycle, why = fp32_flops_per_cycle(f["flags"])  # type: ignore[arg-type]
    update = {
        "name": f"Local CPU: {f['model']}",
        "cores": _fig(f["cores"], "physical cores, psutil"),  # type: ignore[arg-type]
        "fp32_flops_per_cycle": _fig(per_cycle, why),
        "vector_isa": why.split(",")[0],
    }
    if f["ghz"]:
        update["base_ghz"] = _fig(f["ghz"], "max clock from psutil or /proc/cpuinfo")  # type: ignore[arg-type]
    return entry.model_copy(update=update)


def local_accelerator(entry: Accelerator) -> Accelerator:
    """The catalog's `cpu` accelerator: peak from cores, clock and flags; memory from psutil."""
    f = cpu_facts()
    cores, ghz = f["cores"], f["ghz"]
    flags: frozenset[str] = f["flags"]  # type: ignore[assignment]
    per_cycle, why = fp32_flops_per_cycle(flags)
    peaks: dict[str, Figure] = {}
    if ghz:
        # The clock the OS reports is often the base clock: cores that boost above it
        # beat this peak, and `advisor calibrate` then takes the measured peak instead.
        base = f"{cores} cores x {ghz:.2f} GHz (the highest clock the OS reports)"
        peaks["fp32"] = _fig(cores * ghz * per_cycle / 1e3, f"{base} x {per_cycle}: {why}")  # type: ignore[operator]
        peaks["fp64"] = _fig(cores * ghz * per_cycle / 2e3, f"{base} x {per_cycle // 2}")  # type: ignore[operator]
        if "amx_bf16" in flags:
            peaks["bf16"] = _fig(cores * ghz * 1024 / 1e3, f"{base} x 1024 AMX-BF16 ops/cycle")  # type: ignore[operator]
        elif "avx512_bf16" in flags:
            peaks["bf16"] = _fig(cores * ghz * per_cycle * 2 / 1e3, f"{base} x AVX512-BF16 dot")  # type: ignore[operator]
    return entry.model_copy(
        update={
            "name": f"Local CPU: {f['model']}",
            "memory_gb": _fig(f["memory_bytes"] / 1e9, "total RAM, psutil"),  # type: ignore[operator]
            "peak_tflops": peaks,
        }
    )
