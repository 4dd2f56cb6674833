"""`advisor estimate`: FLOPs, memory (and time and cost, with a profile) of one layout."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

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
    print_goodput,
)
from advisor.cost import DEFAULT_GRID_KG_PER_KWH, PRICINGS
from advisor.errors import unknown
from advisor.layout import LayoutChoice
from advisor.model.select import resolve_model
from advisor.model.spec import OPTIMIZERS, PRECISIONS, RECOMPUTES, TrainingSpec
from advisor.units import (
    format_bytes,
    format_duration,
    format_money,
    format_size,
    parse_count,
    parse_size,
)

CONVENTIONS = ("advisor", "deepspeed", "megatron", "amp")
M = "Model"
H = "Hardware"
L = "Layout (left out: chosen)"


def _choice(value: str | None, kind: str, choices: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v not in choices:
        raise unknown(kind, value, choices)
    return v


def estimate(
    params: Annotated[
        str | None, typer.Option(help="Model size, e.g. 1.3B.", rich_help_panel=M)
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Preset name, e.g. llama-2-7b.", rich_help_panel=M)
    ] = None,
    hf_config: Annotated[
        Path | None, typer.Option(help="Hugging Face config.json.", rich_help_panel=M)
    ] = None,
    layers: Annotated[int | None, typer.Option(min=1, rich_help_panel=M)] = None,
    hidden: Annotated[int | None, typer.Option(min=1, rich_help_panel=M)] = None,
    heads: Annotated[int | None, typer.Option(min=1, rich_help_panel=M)] = None,
    kv_heads: Annotated[int | None, typer.Option(min=1, rich_help_panel=M)] = None,
    ffn_hidden: Annotated[int | None, typer.Option(min=1, rich_help_panel=M)] = None,
    head_dim: Annotated[
        int | None,
        typer.Option(min=1, help="Per-head width (default hidden/heads).", rich_help_panel=M),
    ] = None,
    mlp: Annotated[str | None, typer.Option(help="gelu or swiglu.", rich_help_panel=M)] = None,
    vocab: Annotated[int | None, typer.Option(min=1, rich_help_panel=M)] = None,
    seq_len: Annotated[
        int | None, typer.Option(min=1, help="Context length.", rich_help_panel=M)
    ] = None,
    accelerator: Annotated[
        str | None, typer.Option(help="Accelerator id or alias.", rich_help_panel=H)
    ] = None,
    count: Annotated[str | None, typer.Option(help="Devices in total.", rich_help_panel=H)] = None,
    offering: Annotated[str | None, typer.Option(help="Offering id.", rich_help_panel=H)] = None,
    nodes: Annotated[
        str | None, typer.Option(help="Nodes of the offering.", rich_help_panel=H)
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option(
            help="Device profile from 'advisor calibrate' (implies its --accelerator).",
            rich_help_panel=H,
        ),
    ] = None,
    pricing: Annotated[
        str, typer.Option(help="on-demand, spot or reserved.", rich_help_panel=H)
    ] = "on-demand",
    grid_intensity: Annotated[
        float | None, typer.Option(help="kg CO2e per kWh (default: US average 0.39).", min=0.0)
    ] = None,
    tp: Annotated[
        int | None, typer.Option(min=1, help="Tensor parallel.", rich_help_panel=L)
    ] = None,
    pp: Annotated[
        int | None, typer.Option(min=1, help="Pipeline stages.", rich_help_panel=L)
    ] = None,
    vpp: Annotated[
        int | None, typer.Option(min=1, help="Virtual stages.", rich_help_panel=L)
    ] = None,
    cp: Annotated[
        int | None,
        typer.Option(
            min=1, help="Context parallel: ranks per sequence (ring attention).", rich_help_panel=L
        ),
    ] = None,
    ep: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Expert parallel (MoE): ranks the experts are split over.",
            rich_help_panel=L,
        ),
    ] = None,
    moe_imbalance: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="MoE: busiest expert's tokens over the mean (1 = balanced, as benchmarks force).",
            rich_help_panel=L,
        ),
    ] = 1.0,
    capacity_factor: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            help="MoE: expert capacity over the mean; default dropless.",
            rich_help_panel=L,
        ),
    ] = None,
    sp: Annotated[
        bool | None, typer.Option("--sp/--no-sp", help="Sequence parallel.", rich_help_panel=L)
    ] = None,
    zero: Annotated[
        int | None, typer.Option(min=0, max=3, help="ZeRO stage.", rich_help_panel=L)
    ] = None,
    micro_batch: Annotated[int | None, typer.Option(min=1, rich_help_panel=L)] = None,
    global_batch_tokens: Annotated[str | None, typer.Option(rich_help_panel=L)] = None,
    precision: Annotated[
        str, typer.Option(help="fp32, fp16, bf16, fp8, fp4.", rich_help_panel=L)
    ] = "bf16",
    recompute: Annotated[
        str | None, typer.Option(help="none, selective, full.", rich_help_panel=L)
    ] = None,
    optimizer: Annotated[
        str, typer.Option(help="adamw, sgd, adafactor, adam8bit.", rich_help_panel=L)
    ] = "adamw",
    convention: Annotated[
        str,
        typer.Option(help="State bookkeeping: advisor, deepspeed, megatron, amp (torch.autocast)."),
    ] = "advisor",
    tokens: Annotated[
        str | None, typer.Option(help="Training tokens; default 20 x params.")
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
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when the plan does not fit in memory.")
    ] = False,
    goodput: GoodputOpt = "on",
    checkpoint_storage: CheckpointStorageOpt = None,
    checkpoint_interval: CheckpointIntervalOpt = None,
    node_mtbf: NodeMtbfOpt = None,
    async_checkpoint: AsyncCheckpointOpt = False,
    eval_fraction: EvalFractionOpt = None,
    spot_interruptions: SpotInterruptionsOpt = None,
    catalog: CatalogOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Score one layout: parameters, FLOPs, memory, step time, time to train and cost."""
    from dataclasses import replace

    from advisor.estimate import estimate as run_estimate
    from advisor.hardware import resolve_hardware
    from advisor.stacks import resolve as resolve_stack
    from advisor.what_fits import estimate_alternatives

    spec = resolve_model(
        params,
        model,
        hf_config,
        layers,
        hidden,
        heads,
        kv_heads,
        ffn_hidden,
        mlp,
        vocab,
        seq_len,
        head_dim,
    )
    finetune = finetune_from(method, lora_rank, lora_targets, quant)
    offload_mode = parse_offload(offload)
    training = TrainingSpec(
        tokens=tokens_total(tokens, tokens_per_epoch, epochs),
        global_batch_tokens=(
            parse_size(global_batch_tokens, "--global-batch-tokens", maximum=1e10)
            if global_batch_tokens
            else None
        ),
        precision=_choice(precision, "precision", PRECISIONS),  # type: ignore[arg-type]
        optimizer=_choice(optimizer, "optimizer", OPTIMIZERS),  # type: ignore[arg-type]
        convention=_choice(convention, "convention", CONVENTIONS),  # type: ignore[arg-type]
        moe_imbalance=moe_imbalance,
        capacity_factor=capacity_factor,
    )
    cat = catalog_from(catalog)
    gp = (goodput, checkpoint_storage, checkpoint_interval, node_mtbf, async_checkpoint)
    whole = goodput_from(cat, *gp, eval_fraction, spot_interruptions)
    conv = resolve_stack(cat, stack, flash_attention, dp_overlap)
    prof = read_profile(profile) if profile is not None else None
    hw = resolve_hardware(
        cat,
        accelerator,
        parse_count(count, "--count") if count is not None else None,
        offering,
        parse_count(nodes, "--nodes") if nodes is not None else None,
        prof,
    )
    choice = LayoutChoice(
        tp=tp,
        pp=pp,
        cp=cp,
        ep=ep,
        vpp=vpp,
        sp=sp,
        zero=zero,
        micro_batch=micro_batch,
        recompute=_choice(recompute, "recompute", RECOMPUTES),  # type: ignore[arg-type]
    )
    out = run_estimate(
        spec,
        training,
        hw,
        choice,
        pricing=_choice(pricing, "pricing", PRICINGS) or "on-demand",
        grid_kg_per_kwh=DEFAULT_GRID_KG_PER_KWH if grid_intensity is None else grid_intensity,
        catalog=cat,
        memory_headroom=memory_headroom,
        stack=conv,
        finetune=finetune,
        offload=offload_mode,
        goodput=whole,
    )
    if out.fits is False:

        def attempt(
            finetune: Any = finetune,
            offload: str = offload_mode,
            recompute: str | None = None,
            devices: int | None = None,
        ) -> Any:
            h = hw
            if devices is not None:
                per = hw.devices_per_node
                n_count = devices if offering is None else None
                n_nodes = devices // per if offering is not None else None
                h = resolve_hardware(cat, accelerator, n_count, offering, n_nodes, prof)
            ch = choice if recompute is None else replace(choice, recompute=recompute)
            return run_estimate(
                spec,
                training,
                h,
                ch,
                pricing=_choice(pricing, "pricing", PRICINGS) or "on-demand",
                catalog=cat,
                memory_headroom=memory_headroom,
                stack=conv,
                finetune=finetune,
                offload=offload,
                goodput=whole,
            )

        def flag(n: int) -> str:
            return f"--count {n}" if offering is None else f"--nodes {n // hw.devices_per_node}"

        alts = estimate_alternatives(
            attempt, finetune, offload_mode, choice.recompute, hw.devices, flag
        )
        out = out.model_copy(
            update={"what_would_fit": [a.model_dump(exclude_none=True) for a in alts]}
        )
    if json_out:
        print_json(out)
    else:
        _print_human(out)
    if strict and out.fits is False:
        need = format_bytes(out.memory_per_device_bytes.total)
        cap = format_bytes(out.memory_capacity_bytes or 0)
        sys.stderr.write(
            f"advisor: error: the plan does not fit: {need} per device against {cap} (--strict)\n"
        )
        raise typer.Exit(1)


def _print_human(out) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    c = console()
    hw = out.hardware
    p = out.plan
    if out.fits is False:
        # Said first: everything below describes a plan that cannot run.
        c.print(
            f"[bold red]does NOT fit[/]: {format_bytes(out.memory_per_device_bytes.total)} per "
            f"device against {format_bytes(out.memory_capacity_bytes or 0)}; the figures below "
            "are for a plan that cannot run"
        )
        alts = [
            f"{a['change']} ({format_bytes(a['memory'])}/device, "
            f"{format_money(a['cost']) if a.get('cost') is not None else 'no price'})"
            for a in out.what_would_fit or []
        ]
        none = "no change tried (method, rank, --recompute full, --offload, 64x the devices)"
        c.print("would fit: " + ("; ".join(alts) if alts else none))
    c.print(
        f"[bold]{out.model['name']}[/]: {out.params:,} parameters"
        + (f" ({out.active_params:,} active)" if out.active_params != out.params else "")
        + f", seq {out.model['seq_len']}"
    )
    c.print(
        f"on {hw['devices']} x {hw['name']} ({hw['nodes']} node(s) of {hw['devices_per_node']})"
    )
    if out.method is not None:
        c.print(f"method {out.method}: {out.trainable_params:,} trainable parameters")
    chosen = set(out.chosen)

    def mark(name: str, text: str) -> str:
        return f"{text}*" if name in chosen else text

    c.print(
        "layout: "
        + ", ".join(
            [
                f"dp {p.dp}",
                mark("tp", f"tp {p.tp}"),
                mark("pp", f"pp {p.pp}")
                + (
                    f" ({'/'.join(map(str, sorted(set(p.stage_layers), reverse=True)))} layers)"
                    if len(set(p.stage_layers)) > 1
                    else ""
                ),
                mark("cp", f"cp {p.cp}"),
                *([mark("ep", f"ep {p.ep}")] if out.active_params != out.params else []),
                mark("vpp", f"vpp {p.vpp}"),
                mark("sp", f"sp {'on' if p.sp else 'off'}"),
                mark("zero", f"zero {p.zero}"),
                mark("micro_batch", f"micro-batch {p.micro_batch}"),
                f"grad-accum {p.grad_accum}",
                mark("recompute", f"recompute {p.recompute}"),
                p.precision,
            ]
        )
        + ("   (* chosen by advisor)" if chosen else "")
    )
    c.print(
        f"FLOPs per token: {out.flops_per_token:.4g} model, {out.hardware_flops_per_token:.4g} "
        f"hardware; per step {out.flops['model_per_step']:.4g}; "
        f"training on {format_size(out.tokens)} tokens: {out.flops['total_model']:.4g}"
    )
    t = Table(title="Memory per device", show_edge=False)
    t.add_column("part")
    t.add_column("bytes", justify="right")
    # Bytes this device holds per model parameter: sharded states (ZeRO, tp, pp) are
    # small fractions, so three significant figures rather than two decimals (0.00).
    t.add_column("bytes/param", justify="right")
    m = out.memory_per_device_bytes
    for name in ("weights", "gradients", "optimizer", "activations", "other", "total"):
        v = getattr(m, name)
        per = f"{v / out.params:.3g}" if name in ("weights", "gradients", "optimizer") else ""
        t.add_row(name, format_bytes(v), per)
        if name == "weights" and m.base_weights is not None:
            for sub in ("base_weights", "quant_constants", "adapters"):
                part = getattr(m, sub)
                t.add_row(f"  {sub.replace('_', ' ')}", format_bytes(part), "")
    c.print(t)
    cap = out.memory_capacity_bytes
    verdict = "fits" if out.fits else "does NOT fit"
    c.print(f"{verdict} in {format_bytes(cap)} per device" if cap else "capacity unknown")
    c.print(f"step time {out.step_time_s:.4g} s{range_text(out, 'step_time_s')}")
    b = Table(title="Step time by part", show_edge=False)
    b.add_column("part")
    b.add_column("seconds", justify="right")
    b.add_column("share", justify="right")
    for k, v in out.breakdown_s.items():
        b.add_row(k, f"{v:.4g}", f"{v / out.step_time_s:.1%}")
    c.print(b)
    c.print(
        f"{out.tokens_per_s:,.0f} tokens/s ({out.tokens_per_s_per_device:,.0f} per device), "
        f"{out.achieved_tflops_per_device:.1f} TFLOP/s per device, "
        f"MFU {out.mfu:.1%}, HFU {out.hfu:.1%}"
        + (f" (of the {out.mfu_peak_precision} peak)" if out.mfu_peak_precision else "")
    )
    print_goodput(c, out)
    line = (
        f"time to train {format_size(out.tokens)} tokens: {format_duration(out.time_to_train_s)}"
        f"{range_text(out, 'time_to_train_s')}, {out.device_hours:,.0f} device-hours"
    )
    if out.cost_usd is not None:
        line += (
            f", {format_money(out.cost_usd)}{range_text(out, 'cost_usd')} "
            f"at ${out.price_per_hour_usd:,.2f}/h"
        )
    c.print(line)
    if out.range:
        basis = out.range["basis"]
        c.print(
            f"[dim]ranges: 10th-90th percentile of the cross-validated error on "
            f"{basis['count']} comparable published runs ({basis['group']}; advisor accuracy)[/]"
        )
    if out.energy_kwh is not None:
        c.print(f"energy {out.energy_kwh:,.0f} kWh, {out.emissions_kg_co2e:,.0f} kg CO2e")
    for a in out.assumptions:
        c.print(f"[dim]assumes: {a}[/]")


def range_text(out: Any, key: str) -> str:
    """' (range a-b)' for a figure of an estimate, formatted like the figure."""
    r = (
        (out.range or {}).get(key)
        if not isinstance(out, dict)
        else (out.get("range") or {}).get(key)
    )
    if not r or r.get("low") is None:
        return ""
    fmt = {
        "step_time_s": lambda v: f"{v:.4g} s",
        "time_to_train_s": format_duration,
        "cost_usd": format_money,
    }[key]
    return f" (range {fmt(r['low'])} to {fmt(r['high'])})"
