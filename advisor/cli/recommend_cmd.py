"""`advisor recommend`: ranked offerings x node counts x layouts under a budget and deadline."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from advisor.catalog import Catalog
from advisor.catalog.loader import read_profile
from advisor.cli.common import (
    MEMORY_HEADROOM,
    CatalogOpt,
    DpOverlapOpt,
    FlashAttentionOpt,
    JsonOpt,
    MemoryHeadroomOpt,
    StackOpt,
    catalog_from,
    console,
    print_json,
)
from advisor.cli.finetune_opts import (
    EpochsOpt,
    LoraRankOpt,
    LoraTargetsOpt,
    MethodOpt,
    OffloadOpt,
    QuantOpt,
    TokensPerEpochOpt,
    finetune_from,
    parse_offload,
    tokens_total,
)
from advisor.cli.goodput_opts import (
    AsyncCheckpointOpt,
    CheckpointIntervalOpt,
    CheckpointStorageOpt,
    EvalFractionOpt,
    GoodputOpt,
    NodeMtbfOpt,
    SpotInterruptionsOpt,
    goodput_from,
)
from advisor.cost import DEFAULT_GRID_KG_PER_KWH, PRICINGS
from advisor.errors import AdvisorError, UsageError, unknown
from advisor.finetune.spec import FinetuneSpec
from advisor.model.select import resolve_model
from advisor.model.spec import PRECISIONS, ModelSpec, TrainingSpec
from advisor.units import (
    format_bytes,
    format_duration,
    format_money,
    format_size,
    parse_count,
    parse_duration,
    parse_money,
    parse_size,
)

OBJECTIVES = ("cost", "time")
# Kept in step with advisor.ranking.DEFAULT_MAX_DAYS (not imported: it pulls numpy in).
MAX_DAYS_HELP = "Longest run to recommend, in days (default 90, or the --deadline)."


def parse_deadline(text: str) -> float:
    """A duration ('36h', '14d') or a date/time ('2026-12-24', ISO 8601) from now, in seconds."""
    raw = text.strip()
    if len(raw) >= 10 and raw[4:5] == "-" and raw[:4].isdigit():
        try:
            when = dt.datetime.fromisoformat(raw)
        except ValueError as e:
            raise UsageError(f"--deadline: cannot read the date '{raw}'") from e
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
        if seconds <= 0:
            raise UsageError(f"--deadline: {raw} is in the past")
        return seconds
    return parse_duration(raw, "--deadline")


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    if not out:
        raise UsageError("empty list given")
    return out


@dataclass
class RecommendRequest:
    """The parsed `recommend` options: what `advisor.recommend.recommend` takes."""

    spec: ModelSpec
    training: TrainingSpec
    catalog: Catalog
    kwargs: dict[str, Any]


def recommend_request(
    *,
    params: str | None,
    model: str | None,
    hf_config: Path | None,
    seq_len: int | None,
    tokens: str | None,
    budget: str | None,
    deadline: str | None,
    max_devices: str,
    providers: list[str] | None,
    accelerators: list[str] | None,
    pricing: str,
    objective: str,
    top: int,
    precision: str,
    global_batch_tokens: str | None,
    profile: Path | None,
    grid_intensity: float | None,
    onprem: bool,
    catalog: list[Path] | None,
    max_days: float | None = None,
    owned: bool = False,
    memory_headroom: float = MEMORY_HEADROOM,
    stack: str = "auto",
    flash_attention: bool | None = None,
    dp_overlap: bool | None = None,
    finetune: FinetuneSpec | None = None,
    tokens_per_epoch: str | None = None,
    epochs: float | None = None,
    offload: str = "none",
    goodput: dict[str, Any] | None = None,
) -> RecommendRequest:
    """Turn the command-line options (shared by `recommend` and `report`) into arguments."""
    from advisor.stacks import resolve as resolve_stack

    spec = resolve_model(params, model, hf_config, seq_len=seq_len)
    pr = pricing.strip().lower()
    if pr not in PRICINGS:
        raise unknown("pricing", pricing, PRICINGS)
    obj = objective.strip().lower()
    if obj not in OBJECTIVES:
        raise unknown("objective", objective, OBJECTIVES)
    prec = precision.strip().lower()
    if prec not in PRECISIONS:
        raise unknown("precision", precision, PRECISIONS)
    training = TrainingSpec(
        tokens=tokens_total(tokens, tokens_per_epoch, epochs),
        global_batch_tokens=(
            parse_size(global_batch_tokens, "--global-batch-tokens", maximum=1e10)
            if global_batch_tokens
            else None
        ),
        precision=prec,  # type: ignore[arg-type]
    )
    cat = catalog_from(catalog)
    kwargs: dict[str, Any] = {
        "budget": parse_money(budget, "--budget") if budget is not None else None,
        "deadline_s": parse_deadline(deadline) if deadline is not None else None,
        "max_devices": parse_count(max_devices, "--max-devices", maximum=1_000_000),
        "providers": _split(providers),
        "accelerators": _split(accelerators),
        "pricing": pr,
        "objective": obj,
        "top": top,
        "profile": read_profile(profile) if profile else None,
        "grid_kg_per_kwh": DEFAULT_GRID_KG_PER_KWH if grid_intensity is None else grid_intensity,
        "onprem": onprem or owned,
        "max_days": max_days,
        "owned": owned,
        "memory_headroom": memory_headroom,
        "stack": resolve_stack(cat, stack, flash_attention, dp_overlap),
    }
    kwargs["goodput"] = goodput_from(cat, **(goodput or {}))
    if finetune is not None:
        kwargs["finetune"] = finetune
    if parse_offload(offload) != "none":
        kwargs["offload"] = parse_offload(offload)
    return RecommendRequest(spec, training, cat, kwargs)


def recommend(
    params: Annotated[str | None, typer.Option(help="Model size, e.g. 1.3B.")] = None,
    model: Annotated[str | None, typer.Option(help="Preset name, e.g. llama-2-7b.")] = None,
    hf_config: Annotated[Path | None, typer.Option(help="Hugging Face config.json.")] = None,
    seq_len: Annotated[int | None, typer.Option(min=1, help="Context length.")] = None,
    tokens: Annotated[
        str | None, typer.Option(help="Training tokens; default 20 x params.")
    ] = None,
    budget: Annotated[str | None, typer.Option(help="Budget in USD: 5000, 5k, $20M.")] = None,
    deadline: Annotated[str | None, typer.Option(help="36h, 14d, or a date (2026-12-24).")] = None,
    max_devices: Annotated[str, typer.Option(help="Most accelerators to consider.")] = "1024",
    providers: Annotated[
        list[str] | None, typer.Option(help="Providers to include (repeatable or a,b).")
    ] = None,
    accelerators: Annotated[
        list[str] | None, typer.Option(help="Accelerators to include (ids or aliases).")
    ] = None,
    pricing: Annotated[str, typer.Option(help="on-demand, spot or reserved.")] = "on-demand",
    objective: Annotated[str, typer.Option(help="cost or time.")] = "cost",
    top: Annotated[int, typer.Option(min=1, max=1000, help="Options to show.")] = 10,
    precision: Annotated[str, typer.Option(help="fp32, fp16, bf16, fp8, fp4.")] = "bf16",
    global_batch_tokens: Annotated[str | None, typer.Option(help="Tokens per step.")] = None,
    profile: Annotated[
        Path | None, typer.Option(help="Device profile from 'advisor calibrate'.")
    ] = None,
    grid_intensity: Annotated[
        float | None, typer.Option(min=0.0, help="kg CO2e per kWh (default: US average 0.39).")
    ] = None,
    onprem: Annotated[
        bool, typer.Option("--onprem", help="Include on-premises builds (purchase cost).")
    ] = False,
    owned: Annotated[
        bool, typer.Option("--owned", help="On-premises hardware is already owned (amortised).")
    ] = False,
    max_days: Annotated[
        float | None, typer.Option(min=0.001, help=MAX_DAYS_HELP, show_default=False)
    ] = None,
    method: MethodOpt = None,
    lora_rank: LoraRankOpt = None,
    lora_targets: LoraTargetsOpt = None,
    quant: QuantOpt = None,
    tokens_per_epoch: TokensPerEpochOpt = None,
    epochs: EpochsOpt = None,
    offload: OffloadOpt = "none",
    memory_headroom: MemoryHeadroomOpt = MEMORY_HEADROOM,
    stack: StackOpt = "auto",
    flash_attention: FlashAttentionOpt = None,
    dp_overlap: DpOverlapOpt = None,
    goodput: GoodputOpt = "on",
    checkpoint_storage: CheckpointStorageOpt = None,
    checkpoint_interval: CheckpointIntervalOpt = None,
    node_mtbf: NodeMtbfOpt = None,
    async_checkpoint: AsyncCheckpointOpt = False,
    eval_fraction: EvalFractionOpt = None,
    spot_interruptions: SpotInterruptionsOpt = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print the options as CSV.")] = False,
    catalog: CatalogOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Rank what to rent or buy for a training run, within a budget and a deadline."""
    from advisor.recommend import recommend as run_recommend

    if json_out and csv_out:
        raise UsageError("give --json or --csv, not both")
    req = recommend_request(
        params=params,
        model=model,
        hf_config=hf_config,
        seq_len=seq_len,
        tokens=tokens,
        budget=budget,
        deadline=deadline,
        max_devices=max_devices,
        providers=providers,
        accelerators=accelerators,
        pricing=pricing,
        objective=objective,
        top=top,
        precision=precision,
        global_batch_tokens=global_batch_tokens,
        profile=profile,
        grid_intensity=grid_intensity,
        onprem=onprem,
        catalog=catalog,
        max_days=max_days,
        owned=owned,
        memory_headroom=memory_headroom,
        stack=stack,
        flash_attention=flash_attention,
        dp_overlap=dp_overlap,
        finetune=finetune_from(method, lora_rank, lora_targets, quant),
        tokens_per_epoch=tokens_per_epoch,
        epochs=epochs,
        offload=offload,
        goodput={
            "goodput": goodput,
            "storage": checkpoint_storage,
            "interval": checkpoint_interval,
            "node_mtbf": node_mtbf,
            "async_checkpoint": async_checkpoint,
            "eval_fraction": eval_fraction,
            "spot_interruptions": spot_interruptions,
        },
    )
    out = run_recommend(req.spec, req.training, req.catalog, **req.kwargs)
    if json_out:
        print_json(out)
    elif csv_out:
        _print_csv(out)
    else:
        _print_table(out)
    if out.nothing_fits:  # what would fit is on stdout; the run as asked cannot be done
        raise AdvisorError(f"{out.nothing_fits}; see what would fit above")


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
