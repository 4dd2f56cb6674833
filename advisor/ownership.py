"""What on-premises hardware costs: buying it, or using hardware already owned.

Buying: the purchase price of whole nodes plus the energy of the run; that is what
a budget must cover. Owned (`--owned`): the amortised share of the purchase for the
hours used plus energy (schema.OnPremCost.hourly_cost_usd). Break-even: the hours
of use at which buying the nodes equals renting the nearest comparable cloud
offering (same accelerator, same count per node): purchase + energy x h = rent x h.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.catalog import Catalog
from advisor.catalog.schema import Offering

HOURS_PER_YEAR = 365.25 * 24


@dataclass(frozen=True)
class Ownership:
    purchase_usd: float  # whole nodes
    energy_usd: float  # for the run
    amortised_usd: float  # amortised purchase + energy for the run
    cost_usd: float  # what the option costs: purchase + energy, or amortised when owned
    owned: bool
    utilization: float
    utilization_assumed: bool
    amortization_years: float
    comparable_offering: str | None
    break_even_days: float | None  # days of use at full load; None: renting stays cheaper
    notes: tuple[str, ...]


def purchase_usd(offering: Offering, nodes: int) -> float:
    assert offering.onprem is not None
    return offering.onprem.purchase_price_usd.value * nodes


def energy_usd_per_hour(offering: Offering, nodes: int) -> float:
    """Power x PUE x electricity price, all nodes."""
    c = offering.onprem
    assert c is not None
    return c.power_kw.value * c.pue.value * c.electricity_usd_per_kwh.value * nodes


def break_even_hours(purchase: float, energy_per_hour: float, rent_per_hour: float) -> float | None:
    """Hours of use at which purchase + energy x h = rent x h; None when renting costs
    no more than the energy alone (buying never pays back)."""
    margin = rent_per_hour - energy_per_hour
    return purchase / margin if margin > 0 else None


def comparable_rental(catalog: Catalog, offering: Offering, pricing: str) -> Offering | None:
    """The cheapest cloud offering with the same accelerator and count per node, priced
    under `pricing` (else on-demand)."""
    same = [
        o
        for o in catalog.offerings.values()
        if o.kind == "cloud"
        and o.accelerator == offering.accelerator
        and o.accelerator_count == offering.accelerator_count
    ]
    for pr in dict.fromkeys((pricing, "on-demand")):
        priced = [o for o in same if o.price_per_hour(pr) is not None]
        if priced:
            return min(priced, key=lambda o: (o.price_per_hour(pr), o.id))
    return None


def ownership(
    catalog: Catalog,
    offering: Offering,
    nodes: int,
    run_hours: float,
    pricing: str,
    owned: bool,
) -> Ownership:
    c = offering.onprem
    assert c is not None
    buy = purchase_usd(offering, nodes)
    energy_h = energy_usd_per_hour(offering, nodes)
    energy = energy_h * run_hours
    amortised = offering.onprem.hourly_cost_usd() * nodes * run_hours
    util = c.utilization.value if c.utilization else 1.0
    years = c.amortization_years.value
    notes = [
        f"on-prem: {'owned' if owned else 'bought'}; "
        f"${c.purchase_price_usd.value:,.0f} per node amortised over {years:g} years at "
        f"{util:.0%} utilisation"
        + (" (assumed: no utilisation in the catalog)" if c.utilization is None else "")
    ]
    if not owned:
        notes.append("delivery and installation time of bought hardware is not included")
    rental = comparable_rental(catalog, offering, pricing)
    days = None
    if rental is not None:
        pr = pricing if rental.price_per_hour(pricing) is not None else "on-demand"
        rent_h = (rental.price_per_hour(pr) or 0.0) * nodes
        hours = break_even_hours(buy, energy_h, rent_h)
        if hours is None:
            notes.append(f"renting {rental.id} costs less than the energy: buying never pays")
        else:
            days = hours / 24.0
            calendar = days / util / 365.25
            notes.append(
                f"break-even against renting {nodes} x {rental.id} ({pr}): {days:,.0f} days of "
                f"use, {calendar:.1f} years at {util:.0%} utilisation"
                + (f", beyond the {years:g}-year amortisation" if calendar > years else "")
            )
    else:
        notes.append(
            f"no cloud offering with {offering.accelerator_count} x {offering.accelerator} "
            "to compare against: no break-even"
        )
    return Ownership(
        purchase_usd=buy,
        energy_usd=energy,
        amortised_usd=amortised,
        cost_usd=amortised if owned else buy + energy,
        owned=owned,
        utilization=util,
        utilization_assumed=c.utilization is None,
        amortization_years=years,
        comparable_offering=rental.id if rental else None,
        break_even_days=days,
        notes=tuple(notes),
    )
