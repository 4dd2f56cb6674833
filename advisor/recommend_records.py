"""The records `advisor recommend` returns (`Query`, `Option`, `RecommendOut`) and the
`Candidate` each scored (offering, nodes) becomes before ranking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from advisor.catalog.schema import Offering
from advisor.dropped import Dropped
from advisor.estimate import EstimateOut
from advisor.hardware import Hardware
from advisor.layout import DEFAULT_MEMORY_HEADROOM
from advisor.ownership import Ownership
from advisor.picks import Pick
from advisor.ranking import TIE_TOLERANCE
from advisor.search import Scored
from advisor.shortfall import Shortfall
from advisor.what_fits import Alternative


class Query(BaseModel):
    """What the user asked, as the JSON output echoes it."""

    model_config = ConfigDict(extra="forbid")

    model: str
    params: int
    tokens: float
    seq_len: int
    budget_usd: float | None
    deadline_s: float | None
    max_devices: int
    providers: list[str] | None
    accelerators: list[str] | None
    pricing: str
    objective: str
    top: int
    precision: str
    max_days: float | None = None
    owned: bool = False
    tie_tolerance: float = TIE_TOLERANCE
    global_batch_tokens: float | None = None
    memory_headroom: float = DEFAULT_MEMORY_HEADROOM
    stack: str = "auto"
    offload: str = "none"


class Option(EstimateOut):
    rank: int
    provider: str
    offering: str
    nodes: int
    # wall_time_s (provisioning + time to train) is what deadlines and --max-days see;
    # billed_hours is per node under the rental terms (the run itself on-premises).
    provisioning_s: float
    terms: str | None = None  # rental terms id; None for on-premises
    purchase_usd: float | None = None  # on-premises: whole nodes
    amortised_usd: float | None = None  # on-premises: amortisation + energy for the run
    owned: bool | None = None
    utilization: float | None = None
    break_even_days: float | None = None  # days of use at which buying = renting
    comparable_offering: str | None = None
    caveats: list[str] = Field(
        default_factory=list, description="Doubts the catalog itself records about this price."
    )


class RecommendOut(BaseModel):
    query: Query
    options: list[Option]
    shortfall: Shortfall | None = None
    cheapest_that_fits: Pick | None = None  # the cheapest option that fits, at any cost
    fastest_within_budget: Pick | None = None  # the fastest within budget and deadline
    nothing_fits: str | None = None  # why no option fits in memory, when none does
    what_would_fit: list[Alternative] = []  # changes that make it fit (advisor/what_fits.py)
    notes: list[str] = []
    dropped: list[Dropped] = []
    feasible_options: int
    removed_by_max_days: int = 0
    offerings_searched: int
    plans_scored: int
    search_seconds: float
    plans_per_second: float


@dataclass
class Candidate:
    offering: Offering
    nodes: int
    hw: Hardware
    scored: Scored
    index: int
    dev: Any
    tokens_per_s: float  # over the whole run (steady x goodput)
    time_s: float  # wall clock: provisioning + run
    cost: float
    billed_h: float
    own: Ownership | None = None
