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
    print_json,
)
from advisor.cli.estimate_output import print_human
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
from advisor.cli.model_opts import (
    FfnHiddenOpt,
    HeadDimOpt,
    HeadsOpt,
    HfConfigOpt,
    HiddenOpt,
    KvHeadsOpt,
    LayersOpt,
    M,
    MlpOpt,
    ParamsOpt,
    PresetOpt,
    VocabOpt,
)
from advisor.cost import DEFAULT_GRID_KG_PER_KWH, PRICINGS
from advisor.errors import one_of
from advisor.layout import LayoutChoice
from advisor.model.select import resolve_model
from advisor.model.spec import OPTIMIZERS, PRECISIONS, RECOMPUTES, TrainingSpec
from advisor.units import (
    format_bytes,
    parse_size,
)

CONVENTIONS = ("advisor", "deepspeed", "megatron", "amp")
H = "Hardware"
L = "Layout (left out: chosen)"


def estimate(
    params: ParamsOpt = None,
    model: PresetOpt = None,
    hf_config: HfConfigOpt = None,
    layers: LayersOpt = None,
    hidden: HiddenOpt = None,
    heads: HeadsOpt = None,
    kv_heads: KvHeadsOpt = None,
    ffn_hidden: FfnHiddenOpt = None,
    head_dim: HeadDimOpt = None,
    mlp: MlpOpt = None,
    vocab: VocabOpt = None,
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
    from advisor.hardware import hardware_from_flags, resolve_hardware
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
        precision=one_of(precision, "precision", PRECISIONS),  # type: ignore[arg-type]
        optimizer=one_of(optimizer, "optimizer", OPTIMIZERS),  # type: ignore[arg-type]
        convention=one_of(convention, "convention", CONVENTIONS),  # type: ignore[arg-type]
        moe_imbalance=moe_imbalance,
        capacity_factor=capacity_factor,
    )
    cat = catalog_from(catalog)
    gp = (goodput, checkpoint_storage, checkpoint_interval, node_mtbf, async_checkpoint)
    whole = goodput_from(cat, *gp, eval_fraction, spot_interruptions)
    conv = resolve_stack(cat, stack, flash_attention, dp_overlap)
    prof = read_profile(profile) if profile is not None else None
    hw = hardware_from_flags(cat, accelerator, count, offering, nodes, prof)
    choice = LayoutChoice(
        tp=tp,
        pp=pp,
        cp=cp,
        ep=ep,
        vpp=vpp,
        sp=sp,
        zero=zero,
        micro_batch=micro_batch,
        recompute=one_of(recompute, "recompute", RECOMPUTES),  # type: ignore[arg-type]
    )
    out = run_estimate(
        spec,
        training,
        hw,
        choice,
        pricing=one_of(pricing, "pricing", PRICINGS) or "on-demand",
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
                pricing=one_of(pricing, "pricing", PRICINGS) or "on-demand",
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
        print_human(out)
    if strict and out.fits is False:
        need = format_bytes(out.memory_per_device_bytes.total)
        cap = format_bytes(out.memory_capacity_bytes or 0)
        sys.stderr.write(
            f"advisor: error: the plan does not fit: {need} per device against {cap} (--strict)\n"
        )
        raise typer.Exit(1)
