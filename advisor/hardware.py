"""Resolve what the user asked to run on: an accelerator and a device count, or an
offering and a node count, into one `Hardware` record the model reads."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.catalog import Catalog
from advisor.catalog.schema import Accelerator, DeviceProfile, Offering, RentalTerms
from advisor.errors import DataError, UsageError
from advisor.units import parse_count

# A bare accelerator count is laid out as nodes of 8, the HGX/DGX/OAM board size.
DEFAULT_DEVICES_PER_NODE = 8


@dataclass(frozen=True)
class Hardware:
    accelerator: Accelerator
    devices: int
    devices_per_node: int
    offering: Offering | None
    profile: DeviceProfile | None
    node_network_gbs: float | None = None  # per node, one direction
    network_note: str | None = None
    terms: RentalTerms | None = None  # how the offering is billed (None: pro rata, or owned)
    domain_note: str | None = None  # a node larger than a board: one chip-link domain

    @property
    def nodes(self) -> int:
        return max(1, self.devices // self.devices_per_node)

    @property
    def memory_bytes(self) -> float | None:
        return self.accelerator.memory_bytes


def resolve_hardware(
    catalog: Catalog,
    accelerator: str | None,
    count: int | None,
    offering: str | None,
    nodes: int | None,
    profile: DeviceProfile | None = None,
) -> Hardware:
    """Exactly one of --accelerator or --offering; counts default to one node."""
    domain = None
    if accelerator and offering:
        raise UsageError("give --accelerator or --offering, not both")
    if profile is not None and not accelerator and not offering:
        accelerator = profile.accelerator  # a profile is measured on one part: it names it
    if offering:
        if count is not None:
            raise UsageError("--count goes with --accelerator; with --offering use --nodes")
        off = catalog.offering(offering)
        acc = catalog.accelerator(off.accelerator)
        n = nodes or 1
        if off.max_nodes and n > off.max_nodes:
            raise UsageError(f"--nodes {n}: offering '{off.id}' allows at most {off.max_nodes}")
        devices, per_node = off.accelerator_count * n, off.accelerator_count
    else:
        if not accelerator:
            raise UsageError("say what to run on: --accelerator ID --count N, or --offering ID")
        if nodes is not None:
            raise UsageError("--nodes goes with --offering; with --accelerator use --count")
        off = None
        acc = catalog.accelerator(accelerator)
        devices = count or 1
        size = _node_size(acc)
        per_node = 1 if acc.kind == "cpu" else min(devices, size)
        scale_up = size > DEFAULT_DEVICES_PER_NODE and acc.scale_up_devices is not None
        if devices % per_node and scale_up:
            per_node = domain_size(devices, size)
        if devices % per_node:
            raise UsageError(
                f"--count {devices}: more than one node needs a multiple of {size} devices"
            )
        if scale_up:
            assert acc.scale_up_devices is not None
            domain = (
                f"{per_node} devices in one chip-link domain (up to {size}, "
                f"{acc.scale_up_devices.source}); its collectives at the node bus bandwidth "
                "of the device profile"
            )
            if devices > per_node:
                domain += (
                    f"; {devices // per_node} such domains, whose data-parallel traffic "
                    "crosses the scale-out network"
                )
    if acc.memory_bytes is None:
        raise DataError(f"accelerator '{acc.id}' has no sourced memory size in the catalog")
    if profile is not None and profile.accelerator not in (acc.id, "cpu"):
        raise UsageError(
            f"--profile is for '{profile.accelerator}', but the hardware is '{acc.id}'"
        )
    prof = profile or catalog.profile_for(acc.id)
    net, note = node_network(catalog, acc, off, per_node)
    if devices > per_node and net is None:
        raise DataError(
            f"no sourced inter-node network for '{off.id if off else acc.id}'; "
            f"use one node (up to {per_node} devices), or an --offering whose network the "
            "catalog knows"
        )
    terms = catalog.terms_for(off) if off is not None else None
    return Hardware(acc, devices, per_node, off, prof, net, note, terms, domain)


def hardware_from_flags(
    catalog: Catalog,
    accelerator: str | None,
    count: str | None,
    offering: str | None,
    nodes: str | None,
    profile: DeviceProfile | None = None,
) -> Hardware:
    """`resolve_hardware` from the command line's text: --count and --nodes as given."""
    return resolve_hardware(
        catalog,
        accelerator,
        parse_count(count, "--count") if count is not None else None,
        offering,
        parse_count(nodes, "--nodes") if nodes is not None else None,
        profile,
    )


def _node_size(acc: Accelerator) -> int:
    """Devices a bare --count groups per node: the chip-link domain where the catalog gives
    one (GB200 NVL72: 72), else the 8 of an HGX/DGX/OAM board."""
    fig = acc.scale_up_devices
    return max(DEFAULT_DEVICES_PER_NODE, int(fig.value)) if fig else DEFAULT_DEVICES_PER_NODE


def domain_size(devices: int, size: int) -> int:
    """Devices per chip-link domain when the count does not fill domains of `size`: the
    largest equal split of the count no larger than a domain (256 GB200 as 4 x 64, as
    Megatron-Bridge's GB200 runs use them), at least a board of 8 where possible."""
    fits = [d for d in range(size, 0, -1) if devices % d == 0]
    return next((d for d in fits if d >= DEFAULT_DEVICES_PER_NODE), fits[0])


def node_network(
    catalog: Catalog, acc: Accelerator, offering: Offering | None, per_node: int = 8
) -> tuple[float | None, str | None]:
    """Inter-node bandwidth per node (GB/s): the offering's, or for a bare accelerator
    the fastest catalog offering with that accelerator (said in the output), or the
    part's own scale-out bandwidth per device x the devices of a node."""
    if offering is not None:
        fig = offering.node_network_bandwidth_gbs
        return (fig.value if fig else None), None
    if acc.scale_out_bandwidth_gbs is not None and acc.scale_up_devices is not None:
        fig = acc.scale_out_bandwidth_gbs
        return fig.value * per_node, (
            f"between chip-link domains: {fig.value:g} GB/s per device ({fig.source}), "
            f"{fig.value * per_node:g} GB/s per domain of {per_node}"
        )
    networked = [
        o
        for o in catalog.offerings.values()
        if o.accelerator == acc.id and o.node_network_bandwidth_gbs is not None
    ]
    if not networked:
        return None, None
    best = max(networked, key=lambda o: o.node_network_bandwidth_gbs.value)  # type: ignore[union-attr]
    assert best.node_network_bandwidth_gbs is not None
    return best.node_network_bandwidth_gbs.value, (
        f"inter-node network of {best.id} assumed "
        f"({best.node_network_bandwidth_gbs.value:g} GB/s per node)"
    )
