"""`advisor recommend`: ranked offerings x node counts x layouts under a budget and deadline."""

from __future__ import annotations

import datetime as dt
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
    print_json,
)
from advisor.cli.emit_cmd import EmitOpt, check_emit, emit_top
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
from advisor.cli.recommend_output import CSV_FIELDS, _print_csv, _print_table
from advisor.cost import DEFAULT_GRID_KG_PER_KWH, PRICINGS
from advisor.errors import AdvisorError, UsageError, unknown
from advisor.finetune.spec import FinetuneSpec
from advisor.model.select import resolve_model
from advisor.model.spec import PRECISIONS, ModelSpec, TrainingSpec
from advisor.units import parse_count, parse_duration, parse_money, parse_size

__all__ = [
    "CSV_FIELDS",
    "MAX_DAYS_HELP",
    "OBJECTIVES",
    "RecommendRequest",
    "parse_deadline",
    "recommend",
    "recommend_request",
]


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
    goodput: str = "on",
    checkpoint_storage: str | None = None,
    checkpoint_interval: str | None = None,
    node_mtbf: str | None = None,
    async_checkpoint: bool = False,
    eval_fraction: float | None = None,
    spot_interruptions: float | None = None,
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
    kwargs["goodput"] = goodput_from(
        cat,
        goodput,
        checkpoint_storage,
        checkpoint_interval,
        node_mtbf,
        async_checkpoint,
        eval_fraction,
        spot_interruptions,
    )
    if finetune is not None:
        kwargs["finetune"] = finetune
    if parse_offload(offload) != "none":
        kwargs["offload"] = parse_offload(offload)
    return RecommendRequest(spec, training, cat, kwargs)


def request_from_options(options: dict[str, Any]) -> RecommendRequest:
    """`recommend_request` from a command's options (its `locals()`): `recommend` and
    `report` declare the same options, so each passes them all through here rather than
    naming every one a second time."""
    import inspect

    names = inspect.signature(recommend_request).parameters
    given = {k: v for k, v in options.items() if k in names}
    given["finetune"] = finetune_from(
        options.get("method"),
        options.get("lora_rank"),
        options.get("lora_targets"),
        options.get("quant"),
    )
    return recommend_request(**given)


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
    emit: EmitOpt = None,
) -> None:
    """Rank what to rent or buy for a training run, within a budget and a deadline."""
    from advisor.recommend import recommend as run_recommend

    if json_out and csv_out:
        raise UsageError("give --json or --csv, not both")
    check_emit(emit)
    req = request_from_options(locals())
    out = run_recommend(req.spec, req.training, req.catalog, **req.kwargs)
    if json_out:
        print_json(out)
    elif csv_out:
        _print_csv(out)
    else:
        _print_table(out)
    if emit is not None:
        emit_top(out, req, emit)
    if out.nothing_fits:  # what would fit is on stdout; the run as asked cannot be done
        raise AdvisorError(f"{out.nothing_fits}; see what would fit above")
