"""Why hardware is left out of a recommendation: said in the output, never dropped silently."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from advisor.catalog import Catalog
from advisor.catalog.schema import Offering
from advisor.cost import PRICINGS
from advisor.units import format_duration

if TYPE_CHECKING:
    from advisor.recommend import Candidate


class Dropped(BaseModel):
    """An accelerator the search could not consider, and why."""

    accelerator: str
    reason: str


def unpriced(
    catalog: Catalog,
    providers: list[str] | None,
    accelerators: list[str] | None,
    pricing: str,
    onprem: bool,
    kept: list[Offering],
) -> list[Dropped]:
    """The accelerators asked for (--accelerators) that no selected offering carries."""
    out: list[Dropped] = []
    have = {o.accelerator for o in kept}
    for name in accelerators or []:
        acc = catalog.accelerator(name)
        if acc.id in have or any(d.accelerator == acc.id for d in out):
            continue
        offs = [o for o in catalog.offerings.values() if o.accelerator == acc.id]
        out.append(
            Dropped(accelerator=acc.id, reason=_why(acc.id, offs, providers, pricing, onprem))
        )
    return out


def _why(
    acc: str, offs: list[Offering], providers: list[str] | None, pricing: str, onprem: bool
) -> str:
    add = "add a priced offering with --catalog FILE"
    if not offs:
        score = f"'advisor estimate --accelerator {acc}'"
        return f"no offering in the catalog; {add}, or score it with {score}"
    if providers:
        want = {p.lower() for p in providers}
        mine = [
            o
            for o in offs
            if o.provider.lower() in want or (o.kind == "onprem" and "on-prem" in want)
        ]
        if not mine:
            by = ", ".join(sorted({o.provider for o in offs}))
            return f"not offered by the providers asked for (offered by {by})"
        offs = mine
    if not onprem and all(o.kind == "onprem" for o in offs):
        return "only on-premises builds list it; add --onprem"
    offs = [o for o in offs if onprem or o.kind != "onprem"]
    other = [p for p in PRICINGS if p != pricing and any(o.price_per_hour(p) for o in offs)]
    ids = ", ".join(o.id for o in offs[:3]) + (" ..." if len(offs) > 3 else "")
    tail = f"; priced {' and '.join(other)}: try --pricing {other[0]}" if other else f"; {add}"
    return f"no {pricing} price for its offerings ({ids}){tail}"


def outside_limits(
    catalog: Catalog,
    accelerators: list[str] | None,
    candidates: list[Candidate],
    ranked: list[Candidate],
    top: int,
    budget: float | None,
    limit_s: float | None,
) -> list[Dropped]:
    """The accelerators asked for (--accelerators) that were scored and fit, but have no
    option in the output: over the budget or the time limit, or ranked below --top."""
    out: list[Dropped] = []
    for name in dict.fromkeys(catalog.accelerator(a).id for a in accelerators or []):
        mine = [c for c in candidates if c.hw.accelerator.id == name]
        if not mine:
            continue  # unpriced or unscorable: said elsewhere
        ranks = [r for r, c in enumerate(ranked, 1) if c.hw.accelerator.id == name]
        if ranks and ranks[0] <= top:
            continue
        if ranks:
            why = f"its best option ranks {ranks[0]}, below --top {top}"
        else:
            cheap = min(mine, key=lambda c: c.cost)
            over = [
                f"costs ${cheap.cost:,.0f}, over the budget ${budget:,.0f}"
                if budget is not None and cheap.cost > budget
                else "",
                f"takes {format_duration(cheap.time_s)}, over the time limit "
                f"({format_duration(limit_s)})"
                if limit_s is not None and cheap.time_s > limit_s
                else "",
            ]
            fast = min(mine, key=lambda c: c.time_s)
            why = (
                f"its cheapest option, {cheap.offering.id} x {cheap.nodes}, "
                + (" and ".join(w for w in over if w) or "is outside the limits")
                + (
                    f"; its fastest, {fast.offering.id} x {fast.nodes}, takes "
                    f"{format_duration(fast.time_s)} for ${fast.cost:,.0f}"
                    if fast is not cheap
                    else ""
                )
            )
        out.append(Dropped(accelerator=name, reason=why))
    return out


def nothing_priced(catalog: Catalog, pricing: str, dropped: list[Dropped]) -> str:
    """Why no offering can be searched: per accelerator asked for, or which pricings exist."""
    if dropped:
        return "none of the accelerators asked for can be searched: " + "; ".join(
            f"{d.accelerator}: {d.reason}" for d in dropped
        )
    priced = {
        p: sum(
            o.kind != "onprem" and o.price_per_hour(p) is not None
            for o in catalog.offerings.values()
        )
        for p in PRICINGS
    }
    have = ", ".join(f"{p} for {n}" for p, n in priced.items() if n)
    return (
        f"no offering asked for has a {pricing} price (the catalog's cloud offerings are priced "
        f"{have}); choose another --pricing, or add your prices with --catalog FILE"
    )
