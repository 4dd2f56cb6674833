"""Rank offerings x node counts x layouts under a budget and a deadline.

Offerings that share an accelerator, node size, inter-node bandwidth and profile
give the same plans and step times, so each such group is searched once (all its
node counts in one vectorised pass) and the prices are applied afterwards. Within
one hardware configuration the fastest plan is also the cheapest (cost = price x
time), so each (offering, nodes) contributes its fastest plan that fits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile, Offering
from advisor.cost import DEFAULT_GRID_KG_PER_KWH
from advisor.errors import AdvisorError, UsageError, unknown
from advisor.estimate import (
    CHINCHILLA_TOKENS_PER_PARAM,
    EstimateOut,
    allocator_slack,
    describe,
    overhead_bytes,
)
from advisor.hardware import Hardware
from advisor.layout import default_batch_tokens
from advisor.model.device import device_model
from advisor.model.flops import model_flops_per_token
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.search import Scored, enumerate_plans, score


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


class Option(EstimateOut):
    rank: int
    provider: str
    offering: str
    nodes: int


class Shortfall(BaseModel):
    """What the budget buys when it cannot train the requested tokens."""

    reason: str
    cheapest_offering: str
    cheapest_cost_usd: float
    tokens_budget_buys: float
    compute_optimal_params: float
    compute_optimal_tokens: float


class RecommendOut(BaseModel):
    query: Query
    options: list[Option]
    shortfall: Shortfall | None = None
    feasible_options: int
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
    tokens_per_s: float
    time_s: float
    cost: float


def node_counts(offering: Offering, max_devices: int, multi_node: bool) -> list[int]:
    """Powers of two up to --max-devices (and the offering's own limit)."""
    limit = max(1, max_devices // offering.accelerator_count)
    if offering.max_nodes:
        limit = min(limit, offering.max_nodes)
    if not multi_node:
        limit = 1
    out, n = [], 1
    while n <= limit:
        out.append(n)
        n *= 2
    return out


def select_offerings(
    catalog: Catalog,
    providers: list[str] | None,
    accelerators: list[str] | None,
    pricing: str,
    onprem: bool = False,
) -> list[Offering]:
    """Offerings with a price for `pricing`. On-premises builds are priced by their
    amortised hourly share, which only holds for hardware owned for years, so they are
    left out unless asked for (`onprem`, or the provider 'on-prem')."""
    offs = list(catalog.offerings.values())
    if not onprem and not (providers and any(p.lower() == "on-prem" for p in providers)):
        offs = [o for o in offs if o.kind != "onprem"]
    if providers:
        known = sorted({o.provider for o in offs})
        lower = {p.lower(): p for p in known}
        want = set()
        for p in providers:
            if p.lower() not in lower:
                raise unknown("provider", p, known)
            want.add(lower[p.lower()])
        offs = [o for o in offs if o.provider in want]
    if accelerators:
        ids = {catalog.accelerator(a).id for a in accelerators}
        offs = [o for o in offs if o.accelerator in ids]
    return [o for o in offs if o.price_per_hour(pricing) is not None]


def _group_key(o: Offering) -> tuple[Any, ...]:
    bw = o.node_network_bandwidth_gbs.value if o.node_network_bandwidth_gbs else None
    return (o.accelerator, o.accelerator_count, bw)


def recommend(
    spec: ModelSpec,
    training: TrainingSpec,
    catalog: Catalog,
    *,
    budget: float | None,
    deadline_s: float | None,
    max_devices: int,
    providers: list[str] | None = None,
    accelerators: list[str] | None = None,
    pricing: str = "on-demand",
    objective: str = "cost",
    top: int = 10,
    profile: DeviceProfile | None = None,
    grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH,
    onprem: bool = False,
) -> RecommendOut:
    started = time.perf_counter()
    counts = count_params(spec)
    tokens = training.tokens or CHINCHILLA_TOKENS_PER_PARAM * counts.total
    batch = training.global_batch_tokens or default_batch_tokens(counts.total)
    offerings = select_offerings(catalog, providers, accelerators, pricing, onprem)
    if not offerings:
        raise AdvisorError(
            f"no offering in the catalog has an {pricing} price for the providers and "
            "accelerators asked for"
        )
    groups: dict[tuple[Any, ...], list[Offering]] = {}
    for o in offerings:
        groups.setdefault(_group_key(o), []).append(o)
    candidates: list[Candidate] = []
    no_precision: set[str] = set()
    plans_scored = 0
    for members in groups.values():
        head = members[0]
        acc = catalog.accelerator(head.accelerator)
        if acc.memory_bytes is None:
            continue
        prof = profile if profile is not None and profile.accelerator == acc.id else None
        prof = prof or catalog.profile_for(acc.id)
        bw = head.node_network_bandwidth_gbs.value if head.node_network_bandwidth_gbs else None
        ns = node_counts(head, max_devices, multi_node=bw is not None)
        per_node = head.accelerator_count
        devices = [n * per_node for n in ns]
        try:
            dev = device_model(catalog, acc, prof, head, per_node, bw)
        except AdvisorError:
            continue  # no sourced peak or bandwidth: cannot be scored
        try:
            dev.peak(training.precision)
        except AdvisorError:
            no_precision.add(acc.id)  # e.g. bf16 on V100/T4: dropped, said if nothing is left
            continue
        plans = enumerate_plans(spec, devices, per_node, batch)
        if len(plans) == 0:
            continue
        hw0 = Hardware(acc, per_node, per_node, head, prof, bw, None)
        overhead, _ = overhead_bytes(hw0)
        slack = allocator_slack(hw0)
        scored = score(
            spec, training, plans, dev, acc.memory_bytes, overhead, allocator_slack=slack
        )
        plans_scored += len(plans)
        devs = scored.devices
        per_token = np.where(scored.fits, scored.step_time / scored.tokens_per_step, np.inf)
        for n, d in zip(ns, devices, strict=True):
            mask = devs == d
            if not mask.any():
                continue
            idx = np.flatnonzero(mask)
            j = idx[int(np.argmin(per_token[idx]))]
            if not np.isfinite(per_token[j]):
                continue
            tps = float(scored.tokens_per_s[j])
            t = tokens / tps
            for o in members:
                price = o.price_per_hour(pricing)
                assert price is not None
                hw = Hardware(acc, d, per_node, o, prof, bw, None)
                candidates.append(
                    Candidate(o, n, hw, scored, int(j), dev, tps, t, price * n * t / 3600)
                )
    elapsed = time.perf_counter() - started
    query = Query(
        model=spec.name,
        params=counts.total,
        tokens=tokens,
        seq_len=spec.seq_len,
        budget_usd=budget,
        deadline_s=deadline_s,
        max_devices=max_devices,
        providers=providers,
        accelerators=accelerators,
        pricing=pricing,
        objective=objective,
        top=top,
        precision=training.precision,
    )
    dropped = (
        f"; dropped for want of a {training.precision} peak: {', '.join(sorted(no_precision))} "
        "(try another --precision)"
        if no_precision
        else ""
    )
    if not candidates and no_precision and plans_scored == 0:
        raise UsageError(f"no offering left to score{dropped}")
    if not candidates:
        raise AdvisorError(
            f"no offering can train {spec.name} ({counts.total / 1e9:.3g}B parameters) within "
            f"{max_devices} devices: nothing fits in memory; raise --max-devices or pick a "
            f"smaller model{dropped}"
        )
    ok = [
        c
        for c in candidates
        if (budget is None or c.cost <= budget) and (deadline_s is None or c.time_s <= deadline_s)
    ]
    key = (lambda c: (c.cost, c.time_s)) if objective == "cost" else (lambda c: (c.time_s, c.cost))
    ok.sort(key=key)
    options = [
        _option(spec, training, c, r + 1, tokens, pricing, grid_kg_per_kwh)
        for r, c in enumerate(ok[:top])
    ]
    shortfall = None
    if not ok:
        shortfall = _shortfall(spec, candidates, budget, deadline_s, tokens)
    return RecommendOut(
        query=query,
        options=options,
        shortfall=shortfall,
        feasible_options=len(ok),
        offerings_searched=len(offerings),
        plans_scored=plans_scored,
        search_seconds=elapsed,
        plans_per_second=plans_scored / elapsed if elapsed > 0 else 0.0,
    )


def _option(
    spec: ModelSpec,
    training: TrainingSpec,
    c: Candidate,
    rank: int,
    tokens: float,
    pricing: str,
    grid: float,
) -> Option:
    est = describe(spec, training, c.hw, c.dev, c.scored, c.index, tokens, pricing, grid)
    return Option(
        **est.model_dump(),
        rank=rank,
        provider=c.offering.provider,
        offering=c.offering.id,
        nodes=c.nodes,
    )


def _shortfall(
    spec: ModelSpec,
    candidates: list[Candidate],
    budget: float | None,
    deadline_s: float | None,
    tokens: float,
) -> Shortfall:
    """The cheapest option, what the budget buys on it, and the compute-optimal size."""
    within_deadline = [c for c in candidates if deadline_s is None or c.time_s <= deadline_s]
    pool = within_deadline or candidates
    best = min(pool, key=lambda c: c.cost)
    if budget is not None and best.cost > budget:
        reason = (
            f"the budget ${budget:,.0f} cannot train {tokens:.3g} tokens: the cheapest option, "
            f"{best.offering.id} x {best.nodes}, needs ${best.cost:,.0f}"
        )
        spend = budget
    else:
        reason = "no option finishes before the deadline"
        spend = best.cost
    buys = tokens * spend / best.cost
    # Compute the budget buys at this option's model FLOPs per dollar; Chinchilla
    # (Hoffmann et al. 2022): C = 6·N·D with D = 20·N, so N = sqrt(C / 120).
    flops = model_flops_per_token(spec) * buys
    n_opt = math.sqrt(flops / (6 * CHINCHILLA_TOKENS_PER_PARAM))
    return Shortfall(
        reason=reason,
        cheapest_offering=f"{best.offering.id} x {best.nodes}",
        cheapest_cost_usd=best.cost,
        tokens_budget_buys=buys,
        compute_optimal_params=n_opt,
        compute_optimal_tokens=CHINCHILLA_TOKENS_PER_PARAM * n_opt,
    )
