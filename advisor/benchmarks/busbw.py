"""nccl-tests' bus-bandwidth factors, apart from the torch code so that calibration and
its tests can use them on a machine without torch."""

from __future__ import annotations


def bus_factor(op: str, n: int) -> float:
    """busbw / algbw (NVIDIA nccl-tests, doc/PERFORMANCE.md)."""
    if n < 1:
        raise ValueError("world size must be >= 1")
    if op == "all_reduce":
        return 2.0 * (n - 1) / n
    if op in ("all_gather", "reduce_scatter"):
        return (n - 1) / n
    raise ValueError(f"unknown collective '{op}'")
