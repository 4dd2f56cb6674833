"""Score every priced offering: offerings that share an accelerator, node size,
inter-node bandwidth and profile give the same plans and step times, so each such group
is searched once (all its node counts in one vectorised pass) and each member's price
and rental terms are applied afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advisor.billing import billed_hours, node_limit, wall_hours
from advisor.catalog import Catalog
from advisor.catalog.schema import DeviceProfile, Offering
from advisor.errors import AdvisorError, unknown
from advisor.estimate import score_on_hardware
from advisor.finetune.spec import FinetuneSpec, check_quant_support
from advisor.fitted_moe import with_moe_factor
from advisor.goodput import GoodputSettings, wall_time
from advisor.hardware import Hardware
from advisor.model.device import device_model
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec, TrainingSpec
from advisor.ownership import ownership
from advisor.recommend_records import Candidate
from advisor.search import Scored, enumerate_plans
from advisor.stacks import StackConventions, apply_efficiency, for_accelerator


@dataclass
class Searched:
    """What scoring the offerings found, and why some accelerators gave nothing."""

    candidates: list[Candidate] = field(default_factory=list)
    convs: dict[str, StackConventions] = field(default_factory=dict)  # the stack per part
    batch_limited: dict[str, int] = field(default_factory=dict)  # fewest devices unused
    no_precision: set[str] = field(default_factory=set)
    plans_scored: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # accelerator -> why not scored
    one_node: dict[str, str] = field(default_factory=dict)  # searched on one node only
    multi_node: set[str] = field(default_factory=set)  # with a sourced network
    short_host: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


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


def _group_key(o: Offering, offload: str = "none") -> tuple[Any, ...]:
    bw = o.node_network_bandwidth_gbs.value if o.node_network_bandwidth_gbs else None
    host = o.host_cpu if offload != "none" else None  # the CPU steps the optimizer
    return (o.accelerator, o.accelerator_count, bw, host)


def search_offerings(
    spec: ModelSpec,
    training: TrainingSpec,
    catalog: Catalog,
    offerings: list[Offering],
    *,
    tokens: float,
    batch: float,
    max_devices: int,
    pricing: str,
    profile: DeviceProfile | None,
    owned: bool,
    memory_headroom: float,
    stack: StackConventions,
    finetune: FinetuneSpec | None,
    offload: str,
    goodput: GoodputSettings | None = None,
) -> Searched:
    """Candidates: each (offering, nodes) with the plan `Scored.best` picks, timed and
    costed over the whole run (`goodput`, advisor/goodput.py)."""
    convs: dict[str, StackConventions] = {}  # accelerator -> the stack's conventions on it
    params = count_params(spec).total  # the checkpoint's size
    groups: dict[tuple[Any, ...], list[Offering]] = {}
    for o in offerings:
        groups.setdefault(_group_key(o, offload), []).append(o)
    candidates: list[Candidate] = []
    batch_limited: dict[str, int] = {}  # accelerator -> fewest devices the batch cannot use
    no_precision: set[str] = set()
    plans_scored = 0
    skipped: dict[str, str] = {}  # accelerator -> why a group of its offerings was not scored
    one_node: dict[str, str] = {}  # accelerator -> an offering searched on one node only
    multi_node: set[str] = set()  # accelerators with an offering whose network is sourced
    short_host: dict[str, list[tuple[int, float]]] = {}  # offering -> (nodes, host bytes)
    for members in groups.values():
        head = members[0]
        acc = catalog.accelerator(head.accelerator)
        if acc.memory_bytes is None:
            skipped[acc.id] = "no sourced memory size in the catalog"
            continue
        try:
            check_quant_support(acc, finetune)
        except AdvisorError as e:
            skipped[acc.id] = str(e)  # no int8/NF4 kernels for a quantized base
            continue
        prof = profile if profile is not None and profile.accelerator == acc.id else None
        prof = prof or catalog.profile_for(acc.id)
        bw = head.node_network_bandwidth_gbs.value if head.node_network_bandwidth_gbs else None
        ns = node_counts(head, max_devices, multi_node=bw is not None)
        if bw is None:
            one_node.setdefault(acc.id, head.id)
        else:
            multi_node.add(acc.id)
        per_node = head.accelerator_count
        devices = [n * per_node for n in ns]
        conv = convs.setdefault(acc.id, for_accelerator(catalog, stack, acc.id))
        try:
            dev = apply_efficiency(
                device_model(catalog, acc, prof, head, per_node, bw, stack=conv.id), conv
            )
            dev = with_moe_factor(dev, spec)
        except AdvisorError as e:
            skipped[acc.id] = str(e)  # no sourced peak or bandwidth: cannot be scored
            continue
        try:
            dev.peak(training.precision)
        except AdvisorError as e:
            skipped[acc.id] = str(e)
            no_precision.add(acc.id)  # e.g. bf16 on V100/T4: dropped, said if nothing is left
            continue
        plans = enumerate_plans(
            spec, devices, per_node, batch, None, conv.flash_attention, conv.zero_stages
        )
        if len(plans) == 0:
            skipped[acc.id] = f"no layout of {spec.name} on {per_node} x n devices"
            continue
        skipped.setdefault(acc.id, "")
        hw0 = Hardware(acc, per_node, per_node, head, prof, bw, None)
        scored = score_on_hardware(
            spec, training, plans, dev, hw0, conv, catalog, memory_headroom, finetune, offload
        )
        plans_scored += len(plans)
        devs = scored.devices
        idle = [d for d in devices if not (devs == d).any()]
        if idle and len(enumerate_plans(spec, idle[:1], per_node, 1e15)):
            batch_limited.setdefault(acc.id, idle[0])
        for n, d in zip(ns, devices, strict=True):
            j = scored.best(among=scored.devices == d)  # the simplest of the fastest, if any
            if j is None:
                continue
            tps = float(scored.tokens_per_s[j])
            t = tokens / tps  # steady state; each offering's whole run below
            step = float(scored.step_time[j])
            for o in members:
                price = o.price_per_hour(pricing)
                assert price is not None
                terms = catalog.terms_for(o)
                limit = node_limit(terms, o.max_nodes)
                if limit is not None and n > limit:
                    continue
                if _short_of_host(scored, int(j), o, per_node):
                    need = float(scored.host_memory[j]) * per_node  # type: ignore[index]
                    short_host.setdefault(o.id, []).append((n, need))
                    continue
                hw = Hardware(acc, d, per_node, o, prof, bw, None, terms)
                run_s, spares = wall_time(goodput, hw, pricing, params, t, step)
                run_h, wtps = run_s / 3600, tokens / run_s
                if o.kind == "onprem":
                    own = ownership(catalog, o, n, run_h, pricing, owned)
                    cost = own.cost_usd
                    c = Candidate(o, n, hw, scored, int(j), dev, wtps, run_s, cost, run_h, own)
                else:
                    billed = billed_hours(run_h, terms)
                    wall = wall_hours(run_h, terms) * 3600
                    cost = price * n * billed * spares  # spare nodes billed with the job
                    c = Candidate(o, n, hw, scored, int(j), dev, wtps, wall, cost, billed)
                candidates.append(c)
    return Searched(
        candidates=candidates,
        convs=convs,
        batch_limited=batch_limited,
        no_precision=no_precision,
        plans_scored=plans_scored,
        skipped=skipped,
        one_node=one_node,
        multi_node=multi_node,
        short_host=short_host,
    )


def _short_of_host(scored: Scored, j: int, o: Offering, per_node: int) -> bool:
    """Offload needs more host memory per node than the offering's sourced figure."""
    if scored.host_memory is None or o.host_memory_gib is None:
        return False
    return float(scored.host_memory[j]) * per_node > o.host_memory_gib.value * 2**30
