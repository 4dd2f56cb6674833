"""What the time model needs to know about a device and its links, as plain floats.

Built from the catalog's accelerator, its efficiency profile and the node's
network. Where a profile lacks a figure, the median of the shipped measured
profiles is used (a derived figure, named in `assumptions`), never a guess.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from advisor.catalog import Catalog
from advisor.catalog.schema import Accelerator, Curve, DeviceProfile, Offering
from advisor.errors import DataError, UsageError

GB = 1e9
# What to suggest when a part lacks the precision asked for: the nearest it has.
PRECISION_FALLBACK = {
    "bf16": ("fp16", "fp32"),
    "fp16": ("bf16", "fp32"),
    "fp8": ("bf16", "fp16"),
    "fp4": ("fp8", "bf16", "fp16"),
    "fp32": ("bf16", "fp16"),
}
FALLBACK_INTRA_LINK = "pcie4"


@dataclass(frozen=True)
class EfficiencyCurve:
    """Fraction of peak against work size, interpolated in log(size)."""

    max_efficiency: float
    sizes: tuple[float, ...] = ()
    values: tuple[float, ...] = ()

    @classmethod
    def from_curve(cls, c: Curve) -> EfficiencyCurve:
        return cls(
            c.max_efficiency.value,
            tuple(p[0] for p in c.points),
            tuple(p[1] for p in c.points),
        )

    def __call__(self, size: Any) -> Any:
        if not self.sizes:
            return np.full_like(np.asarray(size, dtype=float), self.max_efficiency)
        x = np.log(np.maximum(np.asarray(size, dtype=float), 1.0))
        xs = np.log(np.asarray(self.sizes))
        ys = np.asarray(self.values)
        # Beyond the largest measured size efficiency stays at the last measured value.
        return np.interp(x, xs, ys, left=ys[0], right=ys[-1])


@dataclass(frozen=True)
class DeviceModel:
    """Peaks, efficiencies and links of one device type in one node layout."""

    name: str
    peak_flops: dict[str, float]  # dense FLOP/s by dtype
    matmul: dict[str, EfficiencyCurve]
    memory_bandwidth: float  # bytes/s
    memory_efficiency: EfficiencyCurve
    intra_bus_bandwidth: float  # bytes/s, achieved all-reduce bus bandwidth inside a node
    intra_latency: float  # s
    inter_node_bandwidth: float  # bytes/s per node, one direction, achieved
    inter_latency: float  # s
    devices_per_node: int
    optimizer_efficiency: float  # fraction of memory bandwidth in the optimizer step
    kernel_overhead: float = 0.0  # s per kernel (launch and tail), from calibration
    assumptions: tuple[str, ...] = field(default=())
    # Measured on the device itself (advisor calibrate); empty/zero when a profile lacks them.
    attention: dict[str, EfficiencyCurve] = field(default_factory=dict)  # fused, forward
    attention_backward: dict[str, EfficiencyCurve] = field(default_factory=dict)
    vector_rates: dict[str, dict[str, float]] = field(default_factory=dict)  # dtype -> class
    optimizer_tensor_overhead: float = 0.0  # s per parameter tensor per optimizer step
    first_touch_bandwidth: float = 0.0  # bytes/s of page faulting fresh memory (0: none)
    first_touch_min_bytes: float = float("inf")  # tensors this large are fresh every time
    training_efficiency: float = 1.0  # in-step speed over the microbenchmarks' (ops' roofline)
    # Whole-step time over the model's, fitted per (stack, family) on published runs
    # (advisor/fitted.py, advisor/data/stack_fit.yaml); 1.0 = the analytic model alone.
    time_factor: float = 1.0
    stack: str = "auto"  # the software stack the factor and ranges are for
    # precision -> (kernel_overhead, training_efficiency) fitted on that precision's steps
    step_fit_by_precision: dict[str, tuple[float, float]] = field(default_factory=dict)

    def for_precision(self, precision: str) -> DeviceModel:
        """This device with the in-step figures calibrated for `precision`, where the
        profile fitted them apart (advisor calibrate); itself otherwise."""
        fit = self.step_fit_by_precision.get(precision)
        if fit is None:
            return self
        return replace(self, kernel_overhead=fit[0], training_efficiency=fit[1])

    def vector_rate(self, vclass: str, dtype: str) -> float | None:
        """Elements/s of a compute-bound vector op of this class in this dtype, if measured."""
        return self.vector_rates.get(dtype, {}).get(vclass) if vclass else None

    def peak(self, precision: str) -> float:
        """Peak for the matmul dtype; TF32 stands in for fp32 where it is faster.

        A dtype without a sourced peak is refused rather than scored at another's:
        V100 and T4 have no bf16 (Volta/Turing tensor cores do fp16), so bf16 there
        would be a run that cannot happen, priced as if it could.
        """
        key = "tf32" if precision == "fp32" and "tf32" in self.peak_flops else precision
        if key in self.peak_flops:
            return self.peak_flops[key]
        has = [p for p in PRECISION_FALLBACK.get(precision, ()) if p in self.peak_flops]
        hint = f"; use --precision {has[0]}" if has else ""
        listed = ", ".join(sorted(self.peak_flops)) or "none"
        raise UsageError(
            f"{self.name} has no {precision} peak in the catalog (it lists {listed}){hint}"
        )

    def matmul_efficiency(self, precision: str) -> EfficiencyCurve:
        for key in (precision, "bf16", "fp16", "fp32"):
            if key in self.matmul:
                return self.matmul[key]
        raise DataError(f"{self.name}: no matmul efficiency in its profile")


def _median_matmul(catalog: Catalog) -> float:
    vals = [
        p.matmul[d].max_efficiency.value
        for p in catalog.profiles.values()
        for d in ("bf16", "fp16")
        if d in p.matmul and p.accelerator != "cpu"
    ]
    return statistics.median(vals) if vals else 0.75


def _median_memory(catalog: Catalog) -> float:
    vals = [
        p.memory_bandwidth.max_efficiency.value
        for p in catalog.profiles.values()
        if p.memory_bandwidth and p.accelerator != "cpu"
    ]
    return statistics.median(vals) if vals else 0.8


def _median_link_efficiency(catalog: Catalog, tier: str) -> float:
    """Measured bus bandwidth over nominal link bandwidth, across shipped profiles."""
    vals: list[float] = []
    for p in catalog.profiles.values():
        link = p.links.get(tier)  # type: ignore[call-overload]
        acc = catalog.accelerators.get(p.accelerator)
        if link is None or acc is None:
            continue
        if tier == "intra_node" and acc.intra_node_bandwidth_gbs:
            vals.append(link.bus_bandwidth_gbs.value / acc.intra_node_bandwidth_gbs.value)
    return statistics.median(vals) if vals else 0.8


def device_model(
    catalog: Catalog,
    acc: Accelerator,
    profile: DeviceProfile | None,
    offering: Offering | None,
    devices_per_node: int,
    node_bandwidth_gbs: float | None = None,
    stack: str = "auto",
) -> DeviceModel:
    """Combine catalog figures, a profile and the node network into a DeviceModel."""
    notes: list[str] = []
    peaks = {d: f.value * 1e12 for d, f in acc.peak_tflops.items()}
    if profile:
        peaks.update({d: f.value * 1e12 for d, f in profile.peak_tflops.items()})
    if not peaks:
        raise DataError(f"accelerator '{acc.id}' has no sourced peak FLOP/s in the catalog")
    matmul: dict[str, EfficiencyCurve] = {}
    if profile:
        matmul = {d: EfficiencyCurve.from_curve(c) for d, c in profile.matmul.items()}
    transfer = (
        framework_transfer(catalog) if profile is None or _microbenchmark_only(profile) else None
    )
    if not matmul:
        med = _median_matmul(catalog)
        matmul = {"bf16": EfficiencyCurve(med)}
        notes.append(
            f"{acc.id}: no measured matmul efficiency; "
            f"using the median of measured parts ({med:.2f})"
        )
    bw = (
        profile.memory_bandwidth_gbs.value * GB
        if profile and profile.memory_bandwidth_gbs
        else None
    )
    if bw is None and acc.memory_bandwidth_gbs:
        bw = acc.memory_bandwidth_gbs.value * GB
    if bw is None:
        raise DataError(
            f"accelerator '{acc.id}' has no memory bandwidth; "
            "give a --profile from 'advisor calibrate'"
        )
    if profile and profile.memory_bandwidth:
        mem_eff = EfficiencyCurve.from_curve(profile.memory_bandwidth)
    else:
        med = _median_memory(catalog)
        mem_eff = EfficiencyCurve(med)
        notes.append(
            f"{acc.id}: memory-bandwidth efficiency is the median of measured parts ({med:.2f})"
        )
    if transfer is not None and acc.kind != "cpu":
        ratio_e, overhead, ratio_mem, why = transfer
        matmul = {
            d: _with_overhead(
                c.max_efficiency * ratio_e, overhead, peaks.get(d) or max(peaks.values())
            )
            for d, c in matmul.items()
        }
        mem_eff = EfficiencyCurve(mem_eff.max_efficiency * ratio_mem)
        notes.append(f"{acc.id}: {why}")
    intra = profile.links.get("intra_node") if profile else None
    if intra is not None:
        intra_bw = intra.bus_bandwidth_gbs.value * GB
        intra_lat = intra.latency_us.value * 1e-6 if intra.latency_us else 0.0
    elif acc.intra_node_bandwidth_gbs:
        eff = _median_link_efficiency(catalog, "intra_node")
        intra_bw = acc.intra_node_bandwidth_gbs.value * GB * eff
        intra_lat = 0.0
        notes.append(
            f"{acc.id}: intra-node bus bandwidth = link x median measured efficiency ({eff:.2f})"
        )
    elif devices_per_node > 1:
        # No sourced chip link: devices talk over the host's PCIe. The slowest sourced
        # x16 generation is assumed, at the median measured link efficiency.
        fallback = catalog.networks.get(FALLBACK_INTRA_LINK)
        if fallback is None:
            raise DataError(f"{acc.id}: no intra-node link in the catalog to assume")
        eff = _median_link_efficiency(catalog, "intra_node")
        intra_bw = fallback.bandwidth_gbs.value * GB * eff
        intra_lat = 0.0
        notes.append(
            f"{acc.id}: intra-node link not sourced; {fallback.name} "
            f"({fallback.bandwidth_gbs.value:g} GB/s) x {eff:.2f} assumed"
        )
    else:
        intra_bw, intra_lat = 0.0, 0.0
    inter = profile.links.get("inter_node") if profile else None
    node_bw = node_bandwidth_gbs
    if node_bw is None and offering and offering.node_network_bandwidth_gbs:
        node_bw = offering.node_network_bandwidth_gbs.value
    inter_lat = inter.latency_us.value * 1e-6 if inter and inter.latency_us else 0.0
    if node_bw is not None:
        inter_bw = node_bw * GB * INTER_NODE_EFFICIENCY
    elif inter is not None:
        inter_bw = inter.bus_bandwidth_gbs.value * GB
    else:
        inter_bw = 0.0
    opt_eff = (
        profile.optimizer_bandwidth_efficiency.value
        if profile and profile.optimizer_bandwidth_efficiency
        else mem_eff.max_efficiency
    )
    measured = _measured_extras(profile)
    factor = _fitted_factor(acc, profile, stack)
    if factor != 1.0:
        from advisor.fitted import factor_note

        notes.append(factor_note(acc.id, stack))
    return DeviceModel(
        name=acc.id,
        peak_flops=peaks,
        matmul=matmul,
        memory_bandwidth=bw,
        memory_efficiency=mem_eff,
        intra_bus_bandwidth=intra_bw,
        intra_latency=intra_lat,
        inter_node_bandwidth=inter_bw,
        inter_latency=inter_lat,
        devices_per_node=devices_per_node,
        optimizer_efficiency=opt_eff,
        assumptions=tuple(notes),
        time_factor=factor,
        stack=stack,
        **measured,
    )


def _fitted_factor(acc: Accelerator, profile: DeviceProfile | None, stack: str) -> float:
    """The published-runs correction (advisor/fitted.py), except on a CPU or a device
    calibrated in real training steps (its own measured efficiency stands)."""
    if acc.kind == "cpu" or (profile is not None and profile.training_efficiency is not None):
        return 1.0
    from advisor.fitted import time_factor

    return time_factor(acc.id, stack)[0]


def _measured_extras(profile: DeviceProfile | None) -> dict[str, Any]:
    """The optional figures a device's own calibration adds (DeviceProfile's later fields)."""
    if profile is None:
        return {}
    out: dict[str, Any] = {
        "attention": {d: EfficiencyCurve.from_curve(c) for d, c in profile.attention.items()},
        "attention_backward": {
            d: EfficiencyCurve.from_curve(c) for d, c in profile.attention_backward.items()
        },
        "vector_rates": {
            d: {
                k: getattr(r, k).value * 1e9
                for k in ("norm", "activation", "softmax", "cast")
                if getattr(r, k) is not None and getattr(r, k).value > 0
            }
            for d, r in profile.vector_rates.items()
        },
    }
    if profile.kernel_overhead_us is not None:
        out["kernel_overhead"] = profile.kernel_overhead_us.value * 1e-6
    if profile.optimizer_tensor_overhead_us is not None:
        out["optimizer_tensor_overhead"] = profile.optimizer_tensor_overhead_us.value * 1e-6
    if profile.training_efficiency is not None and profile.training_efficiency.value > 0:
        out["training_efficiency"] = profile.training_efficiency.value
    base_eff = out.get("training_efficiency", 1.0)
    out["step_fit_by_precision"] = {
        p: (
            f.kernel_overhead_us.value * 1e-6,
            f.training_efficiency.value if f.training_efficiency else base_eff,
        )
        for p, f in profile.step_fit_by_precision.items()
    }
    if profile.first_touch_gbs and profile.first_touch_min_bytes:
        out["first_touch_bandwidth"] = profile.first_touch_gbs.value * GB
        out["first_touch_min_bytes"] = profile.first_touch_min_bytes.value
    return out


def _microbenchmark_only(profile: DeviceProfile) -> bool:
    """A profile from peak microbenchmarks (no size curve), not from training runs."""
    return not profile.id.endswith("-fit") and all(not c.points for c in profile.matmul.values())


def _with_overhead(e: float, overhead_s: float, peak: float) -> EfficiencyCurve:
    """eff(F) = e·F/(F + F0) with F0 = overhead x peak x e: a fixed time per matmul."""
    f0 = overhead_s * peak * e
    sizes = tuple(10.0**k for k in range(6, 15))
    return EfficiencyCurve(e, sizes, tuple(e * f / (f + f0) for f in sizes))


def framework_transfer(catalog: Catalog) -> tuple[float, float, float, str] | None:
    """What training runs add to microbenchmarks, measured where both exist (A100):
    achieved-in-training over peak-GEMM matmul efficiency, the fixed time per matmul,
    and achieved-in-training over stream memory efficiency. Carried to parts that
    only have microbenchmarks, as a derived assumption."""
    for fit in catalog.profiles.values():
        if not fit.id.endswith("-fit"):
            continue
        pub = catalog.profiles.get(fit.id.removesuffix("-fit") + "-published")
        acc = catalog.accelerators.get(fit.accelerator)
        if pub is None or acc is None or "bf16" not in fit.matmul or "bf16" not in pub.matmul:
            continue
        fc = fit.matmul["bf16"]
        e_fit, e_pub = fc.max_efficiency.value, pub.matmul["bf16"].max_efficiency.value
        # Recover F0 from the curve: eff(F) = e·F/(F+F0) at the point nearest half of e.
        f, v = min(fc.points, key=lambda p: abs(p[1] - e_fit / 2)) if fc.points else (1.0, e_fit)
        f0 = f * (e_fit / v - 1) if v < e_fit else 0.0
        peak = acc.peak_flops("bf16") or 1.0
        overhead = f0 / (peak * e_fit)
        mem_fit = fit.memory_bandwidth.max_efficiency.value if fit.memory_bandwidth else 1.0
        mem_pub = pub.memory_bandwidth.max_efficiency.value if pub.memory_bandwidth else 1.0
        why = (
            f"training-level efficiency carried over from {fit.id}: matmul x {e_fit / e_pub:.3f} "
            f"of its microbenchmark peak and {overhead * 1e6:.0f} us per matmul, memory x "
            f"{mem_fit / mem_pub:.3f} (derived)"
        )
        return e_fit / e_pub, overhead, mem_fit / mem_pub, why
    return None


# Achieved inter-node all-reduce bus bandwidth over the nominal NIC rate: the median of
# 0.85 (3 x 8 A100, 4 x HDR: 84.8 of 100 GB/s, nccl-tests issue 119), 0.85 (p4d EFA v1
# "effective 340Gbps" of 400, ML Engineering network chapter), 0.74 (p6-b200 EFA v4,
# same chapter), 0.96 (HDR, 24 of 25 GB/s per NIC, nccl-tests issue 252) and 0.94
# (NDR guidance 47 of 50 GB/s, nccl-tests issue 290).
INTER_NODE_EFFICIENCY = 0.85
