"""Money, energy and emissions of a run.

Cloud: node price per hour x nodes x billed hours, where billed hours follow the
offering's rental terms (minimum, steps, provisioning; advisor.billing).
On-premises: the offering's hourly cost (amortised purchase + power x PUE x
electricity price; schema.OnPremCost).
Energy: an on-premises node's measured power x PUE; otherwise the accelerators'
TDP x the industry-average PUE (host power is not in the catalog, so this is a
lower bound). Emissions: energy x grid intensity.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.billing import billed_hours, terms_note, wall_hours
from advisor.catalog.schema import Offering
from advisor.hardware import Hardware

# Uptime Institute Intelligence Update 221 (2023-11-23): industry average PUE 1.58.
DEFAULT_PUE = 1.58
# EIA: US utility-scale generation 2022, 1,650 Mt CO2 / 4,230,672 GWh = 0.39 kg/kWh.
DEFAULT_GRID_KG_PER_KWH = 0.39
PRICINGS = ("on-demand", "spot", "reserved")


@dataclass(frozen=True)
class RunCost:
    price_per_hour_usd: float | None  # all nodes together
    cost_usd: float | None
    energy_kwh: float | None
    emissions_kg: float | None
    notes: tuple[str, ...]
    billed_hours: float | None = None  # per node, under the rental terms
    wall_time_s: float | None = None  # run + provisioning


def node_price(offering: Offering | None, pricing: str) -> float | None:
    return offering.price_per_hour(pricing) if offering else None


def run_cost(
    hw: Hardware,
    seconds: float,
    pricing: str = "on-demand",
    grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH,
) -> RunCost:
    hours = seconds / 3600.0
    notes: list[str] = []
    per_node = node_price(hw.offering, pricing)
    price = per_node * hw.nodes if per_node is not None else None
    billed = billed_hours(hours, hw.terms)
    cost = price * billed if price is not None else None
    if hw.terms is not None:
        notes.append(terms_note(hw.terms, hours))
    energy: float | None = None
    off = hw.offering
    if off is not None and off.kind == "onprem" and off.onprem is not None:
        c = off.onprem
        energy = c.power_kw.value * c.pue.value * hw.nodes * hours
        notes.append(
            f"on-prem: ${c.purchase_price_usd.value:,.0f} over {c.amortization_years.value:g} "
            f"years, {c.power_kw.value:g} kW x PUE {c.pue.value:g} "
            f"at ${c.electricity_usd_per_kwh.value:g}/kWh"
        )
    elif hw.accelerator.tdp_w is not None:
        energy = hw.accelerator.tdp_w.value * hw.devices * hours * DEFAULT_PUE / 1000.0
        notes.append(f"energy: accelerator TDP x PUE {DEFAULT_PUE} (host power not included)")
    emissions = energy * grid_kg_per_kwh if energy is not None else None
    wall = wall_hours(hours, hw.terms) * 3600.0
    return RunCost(price, cost, energy, emissions, tuple(notes), billed, wall)
