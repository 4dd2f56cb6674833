"""The two answers a ranked list leaves implicit: the cheapest hardware the run fits on
(at any cost) and the fastest within the budget and deadline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel


class Pick(BaseModel):
    """One option named by what it is; `rank` where the table shows it."""

    rank: int | None  # its rank in `options`, None when below --top or outside the limits
    provider: str
    offering: str
    nodes: int
    accelerator: str
    devices: int
    cost_usd: float
    time_s: float  # wall clock: provisioning + run
    within_limits: bool  # within --budget, --deadline and the horizon


def pick(
    pool: Sequence[Any], options: Sequence[Any], key: Callable[[Any], Any], ok: Sequence[Any]
) -> Pick | None:
    """The candidate of `pool` with the smallest `key`, named with its rank in `options`
    (same offering and node count) where it is one of them."""
    if not pool:
        return None
    c = min(pool, key=key)
    rank = next(
        (o.rank for o in options if o.offering == c.offering.id and o.nodes == c.nodes), None
    )
    return Pick(
        rank=rank,
        provider=c.offering.provider,
        offering=c.offering.id,
        nodes=c.nodes,
        accelerator=c.hw.accelerator.id,
        devices=c.hw.devices,
        cost_usd=c.cost,
        time_s=c.time_s,
        within_limits=any(x is c for x in ok),
    )
