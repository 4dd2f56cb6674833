"""How `advisor recommend` prints its answer: the ranked table with ranges, the picks,
what would fit, what was left out and why, notes, and the CSV form."""

from __future__ import annotations

import csv
import sys

from advisor.cli.common import console
from advisor.units import format_bytes, format_duration, format_money, format_size

CSV_FIELDS = (
    "rank",
    "provider",
    "offering",
    "nodes",
    "accelerator",
    "devices",
    "dp",
    "tp",
    "pp",
    "cp",
    "vpp",
    "zero",
    "micro_batch",
    "recompute",
    "mfu",
    "tokens_per_s",
    "goodput",
    "time_to_train_s",
    "wall_time_s",
    "billed_hours",
    "cost_usd",
    "purchase_usd",
    "amortised_usd",
    "break_even_days",
    "price_per_hour_usd",
    "memory_per_device_bytes",
    "energy_kwh",
    "emissions_kg_co2e",
    "caveats",
)


def _row(o) -> dict[str, object]:  # type: ignore[no-untyped-def]
    p = o.plan
    return {
        "rank": o.rank,
        "provider": o.provider,
        "offering": o.offering,
        "nodes": o.nodes,
        "accelerator": o.hardware["accelerator"],
        "devices": o.hardware["devices"],
        "dp": p.dp,
        "tp": p.tp,
        "pp": p.pp,
        "cp": p.cp,
        "vpp": p.vpp,
        "zero": p.zero,
        "micro_batch": p.micro_batch,
        "recompute": p.recompute,
        "mfu": round(o.mfu, 4),
        "tokens_per_s": round(o.tokens_per_s, 1),
        "goodput": round(o.goodput.fraction, 4) if o.goodput else 1.0,
        "time_to_train_s": round(o.time_to_train_s, 1),
        "wall_time_s": round(o.wall_time_s, 1),
        "billed_hours": round(o.billed_hours, 4),
        "cost_usd": round(o.cost_usd or 0.0, 2),
        "purchase_usd": o.purchase_usd,
        "amortised_usd": o.amortised_usd,
        "break_even_days": o.break_even_days,
        "price_per_hour_usd": o.price_per_hour_usd,
        "memory_per_device_bytes": round(o.memory_per_device_bytes.total),
        "energy_kwh": o.energy_kwh,
        "emissions_kg_co2e": o.emissions_kg_co2e,
        "caveats": "; ".join(o.caveats),
    }


def _billed(o) -> str:  # type: ignore[no-untyped-def]
    """Billed time per node, or how on-premises hardware is paid for."""
    if o.purchase_usd is not None:
        return "owned" if o.owned else "buy"
    return f"{o.billed_hours:,.1f} h" if o.billed_hours < 48 else f"{o.billed_hours / 24:,.1f} d"


def _print_notes(c, out) -> None:  # type: ignore[no-untyped-def]
    """What the table's columns rest on, and what was left out of it."""
    q = out.query
    c.print(
        "[dim]time: provisioning + training; billed: hours paid per node under the "
        "offering's rental terms (minimum and billing steps)[/]"
    )
    if out.removed_by_max_days:
        c.print(
            f"[yellow]{out.removed_by_max_days} option(s) within the limits take longer than "
            f"{q.max_days:g} days and are not shown (--max-days).[/]"
        )
    c.print(
        f"[dim]costs within {q.tie_tolerance:.0%} of each other (the estimate's range) rank "
        f"by {'time' if q.objective == 'cost' else 'cost'}[/]"
    )
    seen: set[str] = set()
    for o in out.options:
        if o.purchase_usd is None or o.offering in seen:
            continue
        seen.add(o.offering)
        buy = f"{o.nodes} x {o.offering}: purchase {format_money(o.purchase_usd)}"
        use = f"amortised + energy for this run: {format_money(o.amortised_usd or 0.0)}"
        extra = [
            a
            for a in o.assumptions
            if a.startswith(("on-prem:", "break-even", "renting", "delivery", "no cloud"))
        ]
        c.print(f"[dim]{buy}; {use}; " + "; ".join(extra) + "[/]")


def _print_csv(out) -> None:  # type: ignore[no-untyped-def]
    w = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for o in out.options:
        w.writerow(_row(o))


def _print_table(out) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    c = console()
    q = out.query
    head = (
        f"[bold]{q.model}[/]: {q.params:,} parameters, "
        f"{format_size(q.tokens)} tokens, seq {q.seq_len}"
    )
    if q.budget_usd is not None:
        head += f", budget {format_money(q.budget_usd)}"
    if q.deadline_s is not None:
        head += f", deadline {format_duration(q.deadline_s)}"
    c.print(head)
    if out.nothing_fits:
        _print_what_would_fit(c, out)
        _print_left_out(out)
        return
    if out.shortfall is not None:
        s = out.shortfall
        c.print(f"[yellow]{s.reason}.[/]")
        c.print(f"{s.what_fits}.")
        _print_picks(c, out)
        _print_left_out(out)
        return
    t = Table(
        title=(
            f"{len(out.options)} of {out.feasible_options} options, by {q.objective} ({q.pricing})"
        ),
        show_edge=False,
    )
    for col in (
        "#",
        "provider",
        "offering",
        "accelerator x n",
        "layout",
        "MFU",
        "tokens/s",
        "goodput",
        "time",
        "billed",
        "cost",
        "mem/device",
    ):
        t.add_column(
            col,
            justify="right"
            if col in ("#", "MFU", "tokens/s", "goodput", "time", "billed", "cost", "mem/device")
            else "left",
        )
    for o in out.options:
        p = o.plan
        layout = f"dp{p.dp} tp{p.tp} pp{p.pp}" + (f" v{p.vpp}" if p.vpp > 1 else "")
        layout += f" cp{p.cp}" if p.cp > 1 else ""
        layout += f" z{p.zero} mb{p.micro_batch}" + (
            f" rc:{p.recompute}" if p.recompute != "none" else ""
        )
        t.add_row(
            str(o.rank),
            o.provider,
            o.offering + ("†" if o.caveats else ""),
            f"{o.hardware['accelerator']} x {o.hardware['devices']}",
            layout,
            f"{o.mfu:.0%}",
            f"{o.tokens_per_s:,.0f}",
            f"{o.goodput.fraction:.1%}" if o.goodput and o.goodput.enabled else "off",
            format_duration(o.wall_time_s) + _span(o, "time_to_train_s", format_duration),
            _billed(o),
            format_money(o.cost_usd or 0.0) + _span(o, "cost_usd", format_money),
            format_bytes(o.memory_per_device_bytes.total),
        )
    c.print(t)
    doubted: dict[tuple[str, str], list[str]] = {}
    for o in out.options:
        for caveat in o.caveats:
            doubted.setdefault((o.offering, caveat), []).append(f"#{o.rank}")
    for (offering, caveat), ranks in doubted.items():
        c.print(f"[yellow]† {offering} ({', '.join(ranks)}): {caveat}[/]")
    if out.options and out.options[0].range:
        b = out.options[0].range["basis"]
        c.print(
            "[dim]under time and cost: 10th-90th percentile of the cross-validated error on "
            f"comparable published runs (#1: {b['group']}, {b['count']} runs; advisor accuracy)[/]"
        )
    _print_picks(c, out)
    _print_notes(c, out)
    _print_left_out(out)
    c.print(
        f"[dim]searched {out.offerings_searched} offerings, {out.plans_scored:,} plans in "
        f"{out.search_seconds:.2f} s ({out.plans_per_second:,.0f} plans/s)[/]"
    )


def _pick_text(p) -> str:  # type: ignore[no-untyped-def]
    where = f"#{p.rank} " if p.rank is not None else ""
    limits = "" if p.within_limits else " (outside the limits)"
    return (
        f"{where}{p.offering} x {p.nodes} ({p.accelerator} x {p.devices}), "
        f"{format_money(p.cost_usd)}, {format_duration(p.time_s)}{limits}"
    )


def _print_picks(c, out) -> None:  # type: ignore[no-untyped-def]
    """The two answers: the cheapest hardware it fits on, the fastest within budget."""
    if out.cheapest_that_fits is not None:
        c.print(f"cheapest that fits: {_pick_text(out.cheapest_that_fits)}")
    # "budget" only where one is given; else the deadline and --max-days are the limits
    label = "fastest within budget" if out.query.budget_usd is not None else "fastest within limits"
    if out.fastest_within_budget is not None:
        c.print(f"{label}: {_pick_text(out.fastest_within_budget)}")
    elif out.cheapest_that_fits is not None:
        c.print(f"{label}: none (no option is within the limits)")


def _print_what_would_fit(c, out) -> None:  # type: ignore[no-untyped-def]
    c.print(f"[yellow]{out.nothing_fits}.[/]")
    c.print(
        "what would fit (each change alone, its cheapest option; activation checkpointing "
        "is searched already):"
    )
    for a in out.what_would_fit:
        host = f", host {format_bytes(a.host_memory_bytes)}/node" if a.host_memory_bytes else ""
        cost = format_money(a.cost) if a.cost is not None else "no price"
        limits = "" if a.within_limits in (None, True) else " (outside the limits)"
        c.print(
            f"  {a.change}: {a.offering} x {a.nodes} ({a.devices} devices), "
            f"{format_bytes(a.memory)}/device{host}, {cost}, "
            f"{format_duration(a.time_s)}{limits}"
        )


def _span(o, key: str, fmt) -> str:  # type: ignore[no-untyped-def]
    """The option's range for a figure, on its own line under it (time: the wall time's
    provisioning added to the range of time to train)."""
    r = (o.range or {}).get(key) or {}
    if r.get("low") is None:
        return ""
    shift = (
        (o.wall_time_s or o.time_to_train_s) - o.time_to_train_s if key == "time_to_train_s" else 0
    )
    return f"\n{fmt(r['low'] + shift)}-{fmt(r['high'] + shift)}"


def _print_left_out(out) -> None:  # type: ignore[no-untyped-def]
    """What the search left out or what limited it, under the table."""
    c = console()
    asked = out.query.accelerators
    shown = [d for d in out.dropped if asked] if asked else []
    for d in shown:
        c.print(f"[yellow]left out {d.accelerator}: {d.reason}[/]")
    rest = [d.accelerator for d in out.dropped if d not in shown]
    if rest:
        c.print(f"[dim]left out (see --json 'dropped' for why): {', '.join(rest)}[/]")
    for n in out.notes:
        c.print(f"[dim]note: {n}[/]")
