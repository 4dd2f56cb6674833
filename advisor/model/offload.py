"""CPU offload of optimizer states and of parameters (DeepSpeed ZeRO-Offload /
ZeRO-Infinity, PyTorch FSDP CPUOffload), over plan arrays.

What moves, after ZeRO-Offload (Ren et al. 2021, "ZeRO-Offload: Democratizing
Billion-Scale Model Training", §4): gradients and optimizer states (the fp32 master
copy and the moments) live in host memory and the optimizer step runs on the CPU;
parameters and the forward and backward passes stay on the device. Per step each
device sends its gradients to the host and receives its updated parameters back.
Parameter offload (ZeRO-Infinity, Rajbhandari et al. 2021; FSDP
`CPUOffload(offload_params=True)`) also keeps the parameters on the host and fetches
each block before its forward and again before its backward, every micro-batch; the
device holds two blocks (the one computing and the one prefetched).

Assumptions, stated in the output: no overlap of these transfers or of the CPU step
with device compute (conservative: DeepSpeed's prefetch and delayed parameter update
hide some); the host holds the offloaded states at the bytes the device would have;
gradient buckets on the device are within the framework overhead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from advisor.model.parallel import max_stage_layers

OFFLOADS: tuple[str, ...] = ("none", "optimizer", "params")
BLOCKS_ON_DEVICE = 2.0  # parameter offload: the block computing and the one prefetched
GB = 1e9


@dataclass(frozen=True)
class HostPath:
    """The device's link to host memory and the node's CPU memory bandwidth."""

    link_bandwidth: float  # bytes/s, one direction, per device
    cpu_bandwidth: float  # bytes/s of host memory, shared by the node's devices
    devices_per_node: int
    notes: tuple[str, ...] = ()


def host_path(catalog: Any, accelerator: Any, offering: Any, devices_per_node: int) -> HostPath:
    """The host link from the catalog: the part's PCIe link where it is one, else PCIe 4.0
    x16 (the project's assumption for unsourced links, advisor/model/device.py), at the
    median measured link efficiency; the host CPU's memory bandwidth from the offering's
    `host_cpu`, else the slowest sourced CPU in the catalog (said)."""
    from advisor.model.device import FALLBACK_INTRA_LINK, _median_link_efficiency

    notes: list[str] = []
    link = catalog.networks.get(accelerator.intra_node_link or "")
    eff = _median_link_efficiency(catalog, "intra_node")
    if link is None or link.kind != "pcie":
        link = catalog.networks[FALLBACK_INTRA_LINK]
        notes.append(
            f"offload: host link of {accelerator.id} not sourced; {link.name} "
            f"({link.bandwidth_gbs.value:g} GB/s) x {eff:.2f} assumed"
        )
    else:
        notes.append(
            f"offload: host link {link.name} ({link.bandwidth_gbs.value:g} GB/s) x {eff:.2f} "
            "(median measured link efficiency)"
        )
    cpu = catalog.cpus.get(offering.host_cpu or "") if offering is not None else None
    if cpu is not None and cpu.memory_bandwidth_gbs is not None:
        cpu_bw = cpu.memory_bandwidth_gbs.value * GB
        notes.append(f"offload: CPU optimizer step at {cpu.name}'s {cpu_bw / GB:g} GB/s")
    else:
        sourced = [
            (c.memory_bandwidth_gbs.value, c.name)
            for c in catalog.cpus.values()
            if c.memory_bandwidth_gbs is not None
        ]
        val, name = min(sourced) if sourced else (100.0, "an assumed host")
        cpu_bw = val * GB
        notes.append(
            f"offload: host CPU not in the catalog for this node; the slowest sourced one "
            f"({name}, {val:g} GB/s) assumed for the CPU optimizer step"
        )
    notes.append(
        "offload: what moves per step after ZeRO-Offload (Ren et al. 2021): gradients to "
        "the host, updated parameters back; parameter offload fetches each block for "
        "forward and backward (ZeRO-Infinity); no overlap with compute assumed"
    )
    return HostPath(link.bandwidth_gbs.value * GB * eff, cpu_bw, devices_per_node, tuple(notes))


@dataclass(frozen=True)
class Offloaded:
    """Device bytes left, host bytes per device, and the seconds offload adds per step."""

    weights: Any
    gradients: Any
    optimizer: Any
    host: Any  # bytes in host memory per device
    transfer_s: Any  # host-device transfers per step
    cpu_s: Any  # the optimizer step on the CPU
    fetch_s: Any  # parameter fetches (parameter offload), part of transfer_s


def offload(
    mode: str,
    weights: Any,
    gradients: Any,
    optimizer: Any,
    stage_layers: Any,
    micro_batches: Any,
    host: HostPath,
) -> Offloaded:
    """Move optimizer states and gradients (and, for 'params', parameters) to the host.
    `weights`, `gradients`, `optimizer` are device bytes without offload (arrays over
    plans); `stage_layers` the blocks on the device, `micro_batches` per step."""
    zero = np.zeros_like(np.asarray(weights, dtype=float) + gradients + optimizer)
    if mode == "none":
        return Offloaded(weights, gradients, optimizer, zero, zero, zero, zero)
    if mode not in OFFLOADS:
        raise ValueError(f"unknown offload mode {mode!r}")
    host_bytes = gradients + optimizer
    # per step: gradients to the host, updated parameters (the gradients' size) back
    moved = 2.0 * np.asarray(gradients, dtype=float)
    # CPU step traffic: read and write each state, read the gradient, write the weight
    # (advisor/model/time.optimizer_bytes_per_param, on host memory)
    cpu_traffic = 2.0 * np.asarray(optimizer, dtype=float) + 2.0 * gradients
    dev_w = weights
    fetch = zero
    if mode == "params":
        host_bytes = host_bytes + weights
        dev_w = np.minimum(weights, BLOCKS_ON_DEVICE * weights / np.maximum(stage_layers, 1))
        fetch = 2.0 * np.asarray(micro_batches, dtype=float) * weights / host.link_bandwidth
    share = host.cpu_bandwidth / max(host.devices_per_node, 1)  # the node's CPU, shared
    return Offloaded(
        weights=dev_w,
        gradients=zero,
        optimizer=zero,
        host=host_bytes + zero,
        transfer_s=moved / host.link_bandwidth + fetch,
        cpu_s=cpu_traffic / share + zero,
        fetch_s=fetch + zero,
    )


class OffloadPass:
    """CPU offload applied to one scoring pass: device bytes out, host bytes and the
    step's transfer and CPU seconds in (advisor/model/offload.py). Mode 'none' is a
    no-op, so `score` without offload is unchanged."""

    def __init__(self, mode: str, host: HostPath | None, spec: Any, plans: Any):
        if mode != "none" and host is None:
            raise ValueError("offload needs the host path (advisor.model.offload.host_path)")
        self.mode, self.host = mode, host
        self.spec, self.plans = spec, plans
        self.result: Any = None

    def memory(self, weights: Any, gradients: Any, optimizer: Any) -> tuple[Any, Any, Any]:
        if self.mode == "none":
            return weights, gradients, optimizer
        assert self.host is not None
        layers = max_stage_layers(self.spec.layers, self.plans.pp)
        r = offload(self.mode, weights, gradients, optimizer, layers, self.plans.m, self.host)
        self.result = r
        return r.weights, r.gradients, r.optimizer

    def time(self, st: Any) -> Any:
        """The device optimizer step becomes the CPU's plus the state transfers; the
        parameter fetches are memory-bound time on the device's host link."""
        r = self.result
        if r is None:
            return st
        return replace(
            st,
            optimizer=r.cpu_s + r.transfer_s - r.fetch_s,
            memory_bound=st.memory_bound + r.fetch_s,
        )

    def label(self, scored: Any) -> Any:
        if self.result is not None and self.host is not None:
            scored.offload_mode, scored.offload_notes = self.mode, self.host.notes
        return scored

    def extra(self) -> dict[str, Any]:
        r = self.result
        if r is None:
            return {}
        return {
            "host_memory": r.host,
            "offload_transfer_s": r.transfer_s,
            "offload_cpu_s": r.cpu_s,
        }


def offload_fields(scored: Any, hw: Any, i: int) -> dict[str, Any]:
    """`offload`, `host_memory_bytes` (per node) and `offload_s` of plan i, if offloaded."""
    if scored.host_memory is None or scored.offload_transfer_s is None:
        return {}
    cpu = scored.offload_cpu_s
    return {
        "offload": scored.offload_mode,
        "host_memory_bytes": float(scored.host_memory[i]) * min(hw.devices, hw.devices_per_node),
        "offload_s": {
            "transfer": float(scored.offload_transfer_s[i]),
            "cpu_optimizer": float(cpu[i]) if cpu is not None else 0.0,
        },
    }


def offload_notes(scored: Any, hw: Any, i: int) -> list[str]:
    """What offload assumes, and whether the node's sourced host memory holds it."""
    fields = offload_fields(scored, hw, i)
    if not fields:
        return []
    need = fields["host_memory_bytes"]
    notes = [*scored.offload_notes]
    have = hw.offering.host_memory_gib if hw.offering is not None else None
    if have is not None and need > have.value * 2**30:
        notes.append(
            f"offload: needs {need / 2**30:,.0f} GiB of host memory per node, more than "
            f"{hw.offering.id}'s {have.value:g} GiB"  # type: ignore[union-attr]
        )
    return notes
