"""Pydantic models for every catalog file (hardware_catalog/*.yaml).

Every number in the catalog is a `Figure`: a value with the `source` it comes
from and the date (`as_of`) the source was read. A figure that no source gives
is left out (None) rather than guessed. Source keys (for example `MLE-ACC`)
resolve to full addresses through `sources.yaml`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from advisor.catalog.figure import DTYPES, Dtype, Figure, Id, Source, Strict
from advisor.catalog.profile_schema import Curve, DeviceProfile, LinkProfile, StepFit, VectorRates

__all__ = [
    "DTYPES",
    "KINDS",
    "Accelerator",
    "BoolSetting",
    "CatalogFile",
    "Cpu",
    "Curve",
    "DeviceProfile",
    "Dtype",
    "Figure",
    "Id",
    "LinkProfile",
    "Network",
    "Offering",
    "OnPremCost",
    "RentalTerms",
    "Source",
    "Stack",
    "StagesSetting",
    "StepFit",
    "Storage",
    "Strict",
    "TpOverlapSetting",
    "VectorRates",
]


class Accelerator(Strict):
    """One accelerator chip (GPU, TPU, or other), per device."""

    id: Id
    name: str
    vendor: str
    kind: Literal["gpu", "tpu", "npu", "cpu"] = "gpu"
    form_factor: str | None = None
    aliases: list[str] = Field(default_factory=list, description="Other names, case-insensitive.")
    memory_gb: Figure | None = Field(default=None, description="Device memory, vendor GB label.")
    memory_type: str | None = None
    memory_bandwidth_gbs: Figure | None = Field(default=None, description="Peak memory GB/s.")
    peak_tflops: dict[Dtype, Figure] = Field(
        default_factory=dict, description="Dense (no sparsity) peak TFLOP/s (TOP/s for int8)."
    )
    intra_node_link: str | None = Field(default=None, description="Network id of the chip link.")
    intra_node_bandwidth_gbs: Figure | None = Field(
        default=None, description="Chip-to-chip link bandwidth per device, one direction, GB/s."
    )
    scale_up_devices: Figure | None = Field(
        default=None,
        description="Devices in one chip-link domain (NVL72: 72) where larger than a board of 8.",
    )
    scale_out_bandwidth_gbs: Figure | None = Field(
        default=None,
        description="Network bandwidth per device between chip-link domains, one direction, "
        "GB/s (NVL72 racks, TPU slices over DCN); used where no offering gives one.",
    )
    tdp_w: Figure | None = None
    launch_year: Figure | None = None
    list_price_usd: Figure | None = None
    notes: str | None = None

    @property
    def memory_bytes(self) -> float | None:
        return self.memory_gb.value * 1e9 if self.memory_gb else None

    def peak_flops(self, dtype: str) -> float | None:
        """Dense peak FLOP/s for a dtype, or None when no source gives it."""
        fig = self.peak_tflops.get(dtype)  # type: ignore[call-overload]
        return fig.value * 1e12 if fig else None


class Cpu(Strict):
    """A host processor (one socket)."""

    id: Id
    name: str
    vendor: str
    arch: str | None = None
    aliases: list[str] = Field(default_factory=list)
    local: bool = Field(default=False, description="Filled in from this machine at run time.")
    cores: Figure | None = None
    base_ghz: Figure | None = None
    boost_ghz: Figure | None = None
    vector_isa: str | None = None
    fp32_flops_per_cycle: Figure | None = Field(
        default=None, description="FP32 FLOPs per cycle per core: FMA pipes x lanes x 2."
    )
    memory_channels: Figure | None = None
    memory_bandwidth_gbs: Figure | None = None
    tdp_w: Figure | None = None
    list_price_usd: Figure | None = None
    notes: str | None = None

    @property
    def peak_fp32_tflops(self) -> float | None:
        """cores x base clock x FLOPs/cycle (hardware-facts.md §5)."""
        if not (self.cores and self.base_ghz and self.fp32_flops_per_cycle):
            return None
        return self.cores.value * self.base_ghz.value * self.fp32_flops_per_cycle.value / 1e3


class Network(Strict):
    """A link or fabric: bandwidth is per port (or per device for chip links), one direction."""

    id: Id
    name: str
    kind: Literal["ethernet", "infiniband", "efa", "nvlink", "pcie", "ici", "xgmi", "roce", "other"]
    scope: Literal["intra_node", "inter_node"]
    aliases: list[str] = Field(default_factory=list)
    bandwidth_gbs: Figure = Field(description="GB/s, one direction.")
    latency_us: Figure | None = None
    notes: str | None = None


class Storage(Strict):
    """A storage device or service."""

    id: Id
    name: str
    kind: Literal["nvme", "sata-ssd", "hdd", "block", "object", "parallel-fs", "local-nvme"]
    aliases: list[str] = Field(default_factory=list)
    read_mbps: Figure | None = Field(default=None, description="Sequential read MB/s.")
    write_mbps: Figure | None = None
    read_mbps_per_tib: Figure | None = Field(
        default=None, description="For services whose throughput scales with capacity."
    )
    iops: Figure | None = None
    requests_per_s: Figure | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _has_throughput(self) -> Storage:
        if not (self.read_mbps or self.read_mbps_per_tib or self.requests_per_s):
            raise ValueError("needs read_mbps, read_mbps_per_tib or requests_per_s")
        return self


class OnPremCost(Strict):
    """What turns a purchase into an hourly cost: amortisation plus energy."""

    purchase_price_usd: Figure
    power_kw: Figure = Field(description="Power draw of the whole node at load.")
    amortization_years: Figure
    electricity_usd_per_kwh: Figure
    pue: Figure
    utilization: Figure | None = Field(
        default=None, description="Fraction of hours the machine is used; default 1."
    )

    def hourly_cost_usd(self) -> float:
        """Amortised purchase per used hour plus energy x PUE."""
        util = self.utilization.value if self.utilization else 1.0
        hours = self.amortization_years.value * 365.25 * 24 * util
        capex = self.purchase_price_usd.value / hours
        energy = self.power_kw.value * self.pue.value * self.electricity_usd_per_kwh.value
        return capex + energy


class RentalTerms(Strict):
    """How a rental is sold: billing granularity, set-up time, and the most nodes one can get.

    Billed time = max(minimum, ceil(t / increment) x increment) for t = provisioning + run
    (+ the unusable tail of a reservation); past `long_after_hours` the increment is
    `long_increment_hours` (advisor.billing.billed_hours).
    """

    id: Id
    name: str
    minimum_hours: Figure = Field(description="Shortest billable rental.")
    increment_hours: Figure = Field(description="Billing step; 1/3600 is per-second billing.")
    long_after_hours: Figure | None = Field(
        default=None, description="Rentals longer than this are billed in the long increment."
    )
    long_increment_hours: Figure | None = None
    max_hours: Figure | None = Field(default=None, description="Longest single rental.")
    unusable_tail_hours: Figure | None = Field(
        default=None, description="End of a billed period the nodes cannot be used."
    )
    provisioning_minutes: Figure = Field(description="From asking to the job running, billed.")
    max_nodes: Figure | None = Field(default=None, description="Most nodes in one rental.")
    notes: str | None = None

    @model_validator(mode="after")
    def _steps(self) -> RentalTerms:
        if self.increment_hours.value <= 0:
            raise ValueError("increment_hours must be positive")
        if (self.long_after_hours is None) != (self.long_increment_hours is None):
            raise ValueError("give long_after_hours and long_increment_hours together")
        if self.long_increment_hours is not None and self.long_increment_hours.value <= 0:
            raise ValueError("long_increment_hours must be positive")
        return self


class Offering(Strict):
    """One node you can rent (cloud instance) or buy (on-premises build)."""

    id: Id
    provider: str
    name: str = Field(description="Instance type or build name.")
    kind: Literal["cloud", "onprem"] = "cloud"
    aliases: list[str] = Field(default_factory=list)
    accelerator: Id
    accelerator_count: int = Field(ge=1, le=4096)
    vcpus: int | None = Field(default=None, ge=1)
    host_cpu: str | None = None
    host_memory_gib: Figure | None = None
    node_network: str | None = Field(default=None, description="Network id of the node fabric.")
    node_network_bandwidth_gbs: Figure | None = Field(
        default=None, description="Aggregate inter-node bandwidth per node, GB/s one direction."
    )
    region: str | None = None
    on_demand_usd_per_hour: Figure | None = None
    spot_usd_per_hour: Figure | None = None
    reserved_usd_per_hour: Figure | None = None
    onprem: OnPremCost | None = None
    max_nodes: int | None = Field(default=None, ge=1)
    terms: Id | None = Field(
        default=None, description="Rental terms id (terms.yaml); cloud default: 'default'."
    )
    storage: Id | None = Field(
        default=None, description="Storage id (storage.yaml) checkpoints are written to."
    )
    notes: str | None = None
    price_caveat: str | None = Field(
        default=None,
        description="The catalog's own doubt about this offering's prices (an anomalous SKU, "
        "a reservation rate stored as on-demand); shown beside every option priced with them.",
    )

    @model_validator(mode="after")
    def _priced_consistently(self) -> Offering:
        if self.kind == "onprem" and self.onprem is None:
            raise ValueError("an onprem offering needs 'onprem' cost inputs")
        if self.kind == "cloud" and self.onprem is not None:
            raise ValueError("'onprem' cost inputs belong to kind: onprem")
        return self

    def rental_price(self, pricing: str = "on-demand") -> Figure | None:
        """The sourced node price per hour under a pricing model (None where unsourced)."""
        return {
            "on-demand": self.on_demand_usd_per_hour,
            "spot": self.spot_usd_per_hour,
            "reserved": self.reserved_usd_per_hour,
        }[pricing]

    def price_per_hour(self, pricing: str = "on-demand") -> float | None:
        """Node price per hour under a pricing model, or None when unknown."""
        if self.kind == "onprem":
            assert self.onprem is not None
            return self.onprem.hourly_cost_usd()
        fig = self.rental_price(pricing)
        return fig.value if fig else None


class _Setting(Strict):
    """One convention of a software stack, with where it comes from (a document, or
    'choice' with the reason in `note`)."""

    source: str = Field(min_length=1, description="Source key or address; 'choice' if a judgement.")
    as_of: dt.date
    note: str | None = None


class BoolSetting(_Setting):
    value: bool


class TpOverlapSetting(_Setting):
    value: Literal["none", "backward"] = Field(
        description="none: TP collectives exposed; backward: input-gradient collectives run "
        "beside the weight-gradient GEMMs (Megatron's async TP communication)."
    )


class StagesSetting(_Setting):
    value: list[Annotated[int, Field(ge=0, le=3)]] = Field(
        min_length=1, description="ZeRO stages the stack offers (FSDP full shard = 3)."
    )


class Stack(Strict):
    """A training software stack: the kernels and overlap conventions the model applies."""

    id: Id
    name: str
    aliases: list[str] = Field(default_factory=list)
    covers: list[str] = Field(default_factory=list, description="Frameworks it stands for.")
    flash_attention: BoolSetting
    dp_overlap: BoolSetting = Field(
        description="Data-parallel/FSDP collectives overlap backward (and prefetch forward)."
    )
    tp_overlap: TpOverlapSetting
    zero_stages: StagesSetting
    efficiency: dict[str, Figure] = Field(
        default_factory=dict,
        description="Your own matmul-efficiency multiplier by accelerator id or family (for "
        "example measured on your cluster), applied on top of the model; the correction "
        "fitted on published runs is advisor/data/stack_fit.yaml.",
    )
    notes: str | None = None


KINDS = (
    "accelerators",
    "cpus",
    "networks",
    "storage",
    "offerings",
    "profiles",
    "sources",
    "terms",
    "stacks",
)


class CatalogFile(Strict):
    """One YAML file: any subset of the kinds, each a list of entries."""

    schema_version: Literal[1] = 1
    accelerators: list[Accelerator] = Field(default_factory=list)
    cpus: list[Cpu] = Field(default_factory=list)
    networks: list[Network] = Field(default_factory=list)
    storage: list[Storage] = Field(default_factory=list)
    offerings: list[Offering] = Field(default_factory=list)
    profiles: list[DeviceProfile] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    terms: list[RentalTerms] = Field(default_factory=list)
    stacks: list[Stack] = Field(default_factory=list)
