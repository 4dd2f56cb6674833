"""Rank offerings x node counts x layouts under a budget and a deadline.

Offerings that share an accelerator, node size, inter-node bandwidth and profile
give the same plans and step times, so each such group is searched once (all its
node counts in one vectorised pass) and the prices are applied afterwards. Within
one hardware configuration the fastest plan is also the cheapest (cost = price x
time), so each (offering, nodes) contributes the plan `Scored.best` picks: the
simplest of those within a few percent of the fastest that leaves the memory
headroom free.

Cost and time follow the offering's rental terms (advisor.billing: provisioning,
minimum, billing steps, most nodes); on-premises builds cost their purchase unless
the hardware is owned (advisor.ownership). Options slower than the horizon
(--max-days) are removed, and costs within the estimate's range rank by time
(advisor.ranking).
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import numpy as np

from advisor.billing import billed_hours, provisioning_hours, wall_hours
from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile, RentalTerms
from advisor.cost import DEFAULT_GRID_KG_PER_KWH
from advisor.dropped import Dropped, nothing_priced, outside_limits, unpriced
from advisor.errors import AdvisorError, UsageError
from advisor.estimate import CHINCHILLA_TOKENS_PER_PARAM, describe, with_finetune
from advisor.finetune.spec import FinetuneSpec
from advisor.goodput import GoodputSettings
from advisor.goodput_data import goodput_defaults
from advisor.goodput_out import ranking_notes
from advisor.layout import DEFAULT_MEMORY_HEADROOM, batch_notes, default_batch_tokens
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.offering_search import Searched, node_counts, search_offerings, select_offerings
from advisor.picks import pick
from advisor.price_age import stale_price_caveat
from advisor.ranking import DEFAULT_MAX_DAYS, TIE_TOLERANCE, rank_order
from advisor.recommend_records import Candidate, Option, Query, RecommendOut
from advisor.shortfall import Shortfall, find_shortfall
from advisor.stacks import StackConventions, resolve
from advisor.what_fits import recommend_alternatives

__all__ = [
    "Candidate",
    "Option",
    "Query",
    "RecommendOut",
    "Searched",
    "Shortfall",
    "cost_at",
    "horizon_s",
    "node_counts",
    "recommend",
    "search_offerings",
    "select_offerings",
]


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
    max_days: float | None = None,
    owned: bool = False,
    memory_headroom: float = DEFAULT_MEMORY_HEADROOM,
    stack: StackConventions | None = None,
    finetune: FinetuneSpec | None = None,
    offload: str = "none",
    suggest: bool = True,
    goodput: GoodputSettings | None = None,
) -> RecommendOut:
    """Ranked options. `offload`: CPU offload (advisor/model/offload.py). When nothing
    fits in memory and `suggest`, the output says what would (advisor/what_fits.py).
    Time and cost are the whole run's (`goodput`, advisor/goodput.py)."""
    call = {k: v for k, v in locals().items() if k not in ("spec", "training", "catalog")}
    goodput_defaults()  # data is read before the search is timed, as the catalog is
    started = time.perf_counter()
    stack = stack or resolve(catalog, None)
    counts = count_params(spec)
    tokens = training.tokens or CHINCHILLA_TOKENS_PER_PARAM * counts.total
    batch = training.global_batch_tokens or default_batch_tokens(counts.total)
    offerings = select_offerings(catalog, providers, accelerators, pricing, onprem)
    dropped = unpriced(catalog, providers, accelerators, pricing, onprem, offerings)
    if not offerings:
        raise AdvisorError(nothing_priced(catalog, pricing, dropped))
    searched = search_offerings(
        spec,
        training,
        catalog,
        offerings,
        tokens=tokens,
        batch=batch,
        max_devices=max_devices,
        pricing=pricing,
        profile=profile,
        owned=owned,
        memory_headroom=memory_headroom,
        stack=stack,
        finetune=finetune,
        offload=offload,
        goodput=goodput,
    )
    candidates, convs, plans_scored = searched.candidates, searched.convs, searched.plans_scored
    batch_limited, no_precision, skipped = (
        searched.batch_limited,
        searched.no_precision,
        searched.skipped,
    )
    one_node, multi_node, short_host = searched.one_node, searched.multi_node, searched.short_host
    elapsed = time.perf_counter() - started
    horizon = horizon_s(max_days, deadline_s)
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
        max_days=horizon / 86400 if horizon is not None else None,
        owned=owned,
        stack=stack.id,
        global_batch_tokens=batch,
        memory_headroom=memory_headroom,
        offload=offload,
    )
    precision_note = (
        f"; dropped for want of a {training.precision} peak: {', '.join(sorted(no_precision))} "
        "(try another --precision)"
        if no_precision
        else ""
    )
    if not candidates and no_precision and plans_scored == 0:
        raise UsageError(f"no offering left to score{precision_note}")
    if not candidates:
        why = (
            f"no offering can train {spec.name} ({counts.total / 1e9:.3g}B parameters) within "
            f"{max_devices} devices: nothing fits in memory"
        )
        alts = (
            recommend_alternatives(
                partial(recommend, spec, training, catalog), call, finetune, offload
            )
            if suggest
            else []
        )
        if not alts:
            raise AdvisorError(
                f"{why}; raise --max-devices or pick a smaller model{precision_note}"
            )
        return RecommendOut(
            query=query,
            options=[],
            nothing_fits=why,
            what_would_fit=alts,
            dropped=dropped,
            feasible_options=0,
            offerings_searched=len(offerings),
            plans_scored=plans_scored,
            search_seconds=time.perf_counter() - started,
            plans_per_second=0.0,
        )
    asked = (batch, training.global_batch_tokens is not None)
    within = [
        c
        for c in candidates
        if (budget is None or c.cost <= budget) and (deadline_s is None or c.time_s <= deadline_s)
    ]
    ok = [c for c in within if horizon is None or c.time_s <= horizon]
    costs = np.array([c.cost for c in ok])
    times = np.array([c.time_s for c in ok])
    order = (
        rank_order(costs, times, TIE_TOLERANCE)
        if objective == "cost"
        else rank_order(times, costs, TIE_TOLERANCE)
    )
    ok = [ok[int(k)] for k in order]
    options = [
        _option(
            spec,
            training,
            c,
            r + 1,
            tokens,
            pricing,
            grid_kg_per_kwh,
            asked,
            convs.get(c.hw.accelerator.id),
            finetune,
            goodput,
        )
        for r, c in enumerate(ok[:top])
    ]
    shortfall = None
    if not ok:
        limit = deadline_s if horizon is None else min(horizon, deadline_s or horizon)
        shortfall = find_shortfall(spec, candidates, budget, limit, tokens, max_devices)
        if within and horizon is not None:
            shortfall = shortfall.model_copy(
                update={
                    "reason": f"no option finishes within --max-days {horizon / 86400:g} "
                    f"({len(within)} within the other limits take longer); raise --max-days",
                    "binding": ["--max-days"],
                }
            )
    found = {c.hw.accelerator.id for c in candidates}
    for a, why in skipped.items():
        if a not in found:
            why = why or (
                f"nothing fits in its memory within --max-devices {max_devices}"
                if a in multi_node
                else "nothing fits in its memory on one node (no sourced inter-node network)"
            )
            dropped.append(Dropped(accelerator=a, reason=why))
    # asked-for accelerators that fit but are over the limits (or below --top): say so
    limit_s = deadline_s if horizon is None else min(horizon, deadline_s or horizon)
    dropped += outside_limits(catalog, accelerators, candidates, ok, top, budget, limit_s)
    single = sorted(a for a in one_node if a in found and a not in multi_node)
    notes = (
        [f"searched on one node only (no sourced inter-node network): {', '.join(single)}"]
        if single
        else []
    )
    notes += ranking_notes(goodput, pricing)
    notes += [
        f"the global batch ({batch:,.0f} tokens, {batch / spec.seq_len:,.0f} sequences) limits "
        f"scale: no layout of {a} on {d:,} devices or more keeps a micro-step of every "
        "data-parallel replica within it; raise --global-batch-tokens to use more"
        for a, d in sorted(batch_limited.items())
    ]
    notes += [
        f"left out {o} on {', '.join(str(n) for n, _ in short)} node(s): offload needs up to "
        f"{max(b for _, b in short) / 2**30:,.1f} GiB of host memory per node there, more than "
        f"its {catalog.offering(o).host_memory_gib.value:g} GiB"  # type: ignore[union-attr]
        for o, short in sorted(short_host.items())
    ]
    return RecommendOut(
        query=query,
        options=options,
        shortfall=shortfall,
        cheapest_that_fits=pick(candidates, options, lambda c: (c.cost, c.time_s), ok),
        fastest_within_budget=pick(ok, options, lambda c: (c.time_s, c.cost), ok),
        notes=notes,
        dropped=dropped,
        feasible_options=len(ok),
        removed_by_max_days=len(within) - len(ok),
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
    asked: tuple[float, bool],
    stack: StackConventions | None = None,
    finetune: FinetuneSpec | None = None,
    goodput: GoodputSettings | None = None,
) -> Option:
    est = describe(
        spec,
        training,
        c.hw,
        c.dev,
        c.scored,
        c.index,
        tokens,
        pricing,
        grid,
        stack,
        finetune,
        goodput,
    )
    est = with_finetune(est, spec, finetune)
    used = est.global_batch_tokens
    batch = batch_notes(asked[0], used, spec.seq_len, asked[1], count_params(spec).total)
    est = est.model_copy(update={"assumptions": [*est.assumptions, *batch]})
    own = c.own
    extra: dict[str, Any] = {}
    if own is not None:
        notes = [a for a in est.assumptions if not a.startswith("on-prem:")]
        extra = {
            "cost_usd": own.cost_usd,
            "purchase_usd": own.purchase_usd,
            "amortised_usd": own.amortised_usd,
            "owned": own.owned,
            "utilization": own.utilization,
            "break_even_days": own.break_even_days,
            "comparable_offering": own.comparable_offering,
            "assumptions": [*notes, *own.notes],
        }
    return Option(
        **{**est.model_dump(), **extra},
        rank=rank,
        provider=c.offering.provider,
        offering=c.offering.id,
        nodes=c.nodes,
        provisioning_s=provisioning_hours(c.hw.terms) * 3600,
        terms=c.hw.terms.id if c.hw.terms is not None else None,
        caveats=[
            x for x in (c.offering.price_caveat, stale_price_caveat(c.offering, pricing)) if x
        ],
    )


def cost_at(o: Option, run_s: float, terms: RentalTerms | None) -> tuple[float, float]:
    """(wall time, cost) of option `o` had its run taken `run_s` seconds: the same rental
    terms, the same purchase or ownership (the report's sensitivity rescales with it)."""
    if o.purchase_usd is not None:
        scale = run_s / o.time_to_train_s if o.time_to_train_s > 0 else 1.0
        if o.owned:
            return run_s, (o.amortised_usd or 0.0) * scale
        return run_s, o.purchase_usd + ((o.cost_usd or 0.0) - o.purchase_usd) * scale
    h = run_s / 3600
    spares = (o.nodes + o.goodput.spare_nodes) / o.nodes if o.goodput else 1.0
    price = (o.price_per_hour_usd or 0.0) * spares  # spare nodes billed with the job
    return wall_hours(h, terms) * 3600, price * billed_hours(h, terms)


def horizon_s(max_days: float | None, deadline_s: float | None) -> float | None:
    """The longest run to recommend: --max-days when given, else the deadline when one is
    given (the user said how long they can wait), else the default horizon."""
    if max_days is not None:
        return max_days * 86400
    if deadline_s is not None:
        return None
    return DEFAULT_MAX_DAYS * 86400
