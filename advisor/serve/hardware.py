"""What the serving model reads about a device: bytes, achieved bandwidth and FLOP/s at
the compute dtype, the TP link, and which precisions the part can run."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile
from advisor.describe import overhead_bytes
from advisor.errors import UsageError
from advisor.hardware import Hardware
from advisor.model.device import DeviceModel, _median_matmul, _median_memory, device_model

# Formats with their own tensor-core rate on a part that lists them; otherwise weights
# in them are dequantised to 16 bits inside the matmul (weight-only quantisation, as
# gpt-fast's int8/int4 and vLLM's FP8-on-A100 rows run).
NATIVE = ("fp8", "fp4")


@dataclass(frozen=True)
class ServeDevice:
    dev: DeviceModel
    compute: str  # matmul dtype
    kv: str  # KV-cache format
    device_bytes: float
    overhead: float
    bandwidth: float  # achieved bytes/s
    flops: float  # achieved FLOP/s at `compute`
    notes: tuple[str, ...]


def compute_dtype(dev: DeviceModel, weights: str) -> tuple[str, str | None]:
    """The matmul dtype for these weights, and a note when it is weight-only."""
    if weights in ("bf16", "fp16"):
        dev.peak(weights)  # refuses a part without that dtype, naming what it has
        return weights, None
    if weights in NATIVE and weights in dev.peak_flops:
        return weights, None
    half = next((d for d in ("bf16", "fp16") if d in dev.peak_flops), None)
    if half is None:
        dev.peak("bf16")
    return str(half), (
        f"{weights} weights on {dev.name}: weight-only (dequantised to {half} in the matmul; "
        f"the part lists no {weights} tensor rate)"
        if weights in NATIVE
        else f"{weights} weights: weight-only quantisation, matmuls in {half}"
    )


def default_kv(peaks: dict[str, float], weights: str) -> str:
    """The KV format when none is asked: fp8 beside fp8 weights where the part runs fp8,
    else the part's 16-bit float (bf16, or fp16 on parts without bf16)."""
    if weights == "fp8" and "fp8" in peaks:
        return "fp8"
    if weights == "fp16" or "bf16" not in peaks:
        return "fp16" if "fp16" in peaks else "bf16"
    return "bf16"


def check_kv(dev: DeviceModel, kv: str) -> None:
    """A KV format the part runs attention in (16-bit floats, or a listed 8/4-bit rate)."""
    if kv in dev.peak_flops:
        return
    has = [d for d in ("fp8", "bf16", "fp16") if d in dev.peak_flops]
    hint = f"; use --kv-precision {has[0]}" if has else ""
    listed = ", ".join(sorted(dev.peak_flops))
    raise UsageError(
        f"{dev.name} cannot hold a {kv} KV cache: it lists no {kv} rate (it lists {listed}){hint}"
    )


def microbenchmark_profile(catalog: Catalog, hw: Hardware) -> DeviceProfile | None:
    """The user's profile, else the shipped microbenchmark one: a '-fit' profile carries
    training-run corrections, and serving has its own (advisor/serve/fit.py)."""
    if hw.profile is not None and not hw.profile.id.endswith("-fit"):
        return hw.profile
    mine = [
        p
        for p in catalog.profiles.values()
        if p.accelerator == hw.accelerator.id and not p.id.endswith("-fit")
    ]
    return mine[0] if mine else None


def efficiencies(
    catalog: Catalog, hw: Hardware, prof: DeviceProfile | None, compute: str
) -> tuple[float, float, list[str]]:
    """Microbenchmark efficiencies (matmul at `compute`, memory bandwidth) of the part's
    profile, else the median of the measured parts; the engine factors fitted on
    published serving rows (advisor/serve/fit.py) carry the rest. The training-run
    transfer of advisor/model/device.py is not applied: serving is fitted on its own."""
    notes: list[str] = []
    curve = None
    if prof is not None:
        curve = next((prof.matmul[d] for d in (compute, "bf16", "fp16") if d in prof.matmul), None)
    if curve is not None:
        e_mm = curve.max_efficiency.value
    else:
        e_mm = _median_matmul(catalog)
        notes.append(
            f"{hw.accelerator.id}: matmul efficiency = median of measured parts ({e_mm:.2f})"
        )
    if prof is not None and prof.memory_bandwidth is not None:
        e_mem = prof.memory_bandwidth.max_efficiency.value
    else:
        e_mem = _median_memory(catalog)
        notes.append(
            f"{hw.accelerator.id}: memory efficiency = median of measured parts ({e_mem:.2f})"
        )
    return e_mm, e_mem, notes


def serve_device(catalog: Catalog, hw: Hardware, weights: str, kv: str | None) -> ServeDevice:
    """`kv` None: the default format for these weights on this part (default_kv)."""
    prof = microbenchmark_profile(catalog, hw)
    dev = device_model(catalog, hw.accelerator, prof, hw.offering, hw.devices_per_node)
    compute, note = compute_dtype(dev, weights)
    kv = kv or default_kv(dev.peak_flops, weights)
    check_kv(dev, kv)
    over, over_note = overhead_bytes(hw)
    e_mm, e_mem, eff_notes = efficiencies(catalog, hw, prof, compute)
    notes = [n for n in (note, over_note) if n] + eff_notes
    bw = dev.memory_bandwidth * e_mem
    flops = dev.peak(compute) * e_mm
    assert hw.memory_bytes is not None
    return ServeDevice(dev, compute, kv, hw.memory_bytes, over, bw, flops, tuple(notes))
