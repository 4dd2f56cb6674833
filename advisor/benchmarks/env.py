"""The environment recorded with every results file: host, CPU, memory, torch, devices."""

from __future__ import annotations

import contextlib
import platform
import socket
import subprocess
import sys
from pathlib import Path

from advisor.benchmarks.results import DeviceInfo, Environment

# The flags that decide matrix and vector throughput on x86 and Arm.
ISA_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "avx512_fp16",
    "avx512_vnni",
    "amx_bf16",
    "amx_fp16",
    "amx_int8",
    "asimd",
    "sve",
    "sve2",
)


def cpu_info() -> tuple[str, list[str]]:
    """CPU model name and its vector/matrix ISA flags (from /proc/cpuinfo where present)."""
    model = platform.processor() or platform.machine()
    flags: set[str] = set()
    path = Path("/proc/cpuinfo")
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key == "model name" and val.strip():
                model = val.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(val.split())
    elif sys.platform == "darwin":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            model = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
    return model, sorted(f for f in flags if f in ISA_FLAGS)


def nvidia_driver() -> str | None:
    """NVIDIA driver version from /proc or nvidia-smi, when there is one."""
    proc = Path("/proc/driver/nvidia/version")
    if proc.exists():
        first = proc.read_text(errors="replace").splitlines()[0]
        for token in first.split():
            if token[:1].isdigit() and "." in token:
                return token
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout else None


def devices(device: str) -> list[DeviceInfo]:
    import torch

    if device == "cuda":
        out = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out.append(
                DeviceInfo(
                    index=i,
                    name=p.name,
                    memory_bytes=float(p.total_memory),
                    capability=f"{p.major}.{p.minor}",
                )
            )
        return out
    if device == "mps":
        return [DeviceInfo(index=0, name=f"Apple MPS ({platform.machine()})")]
    return []


def environment(device: str, threads: int | None = None) -> Environment:
    """Everything a reader needs to judge where a result came from."""
    import psutil

    model, flags = cpu_info()
    env = Environment(
        hostname=socket.gethostname(),
        platform=platform.platform(),
        python=platform.python_version(),
        cpu_model=model,
        cpu_cores_physical=psutil.cpu_count(logical=False) or psutil.cpu_count() or 1,
        cpu_cores_logical=psutil.cpu_count() or 1,
        cpu_flags=flags,
        memory_bytes=int(psutil.virtual_memory().total),
        threads=threads,
        device=device,
    )
    try:
        import torch
    except ImportError:
        return env
    hip = getattr(torch.version, "hip", None)
    return env.model_copy(
        update={
            "torch_version": torch.__version__,
            "torch_git": getattr(torch.version, "git_version", None),
            "torch_cuda": torch.version.cuda,
            "torch_cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
            "torch_hip": hip,
            "devices": devices(device),
            "driver": nvidia_driver() if device == "cuda" and not hip else None,
        }
    )
