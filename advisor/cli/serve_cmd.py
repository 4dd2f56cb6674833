"""`advisor serve`: memory, latency, throughput and cost per million tokens of serving a
model; with --ttft-slo/--tpot-slo (or without hardware) it ranks configurations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.common import CatalogOpt, JsonOpt, catalog_from, print_json
from advisor.cli.model_opts import (
    FfnHiddenOpt,
    HeadDimOpt,
    HeadsOpt,
    HfConfigOpt,
    HiddenOpt,
    KvHeadsOpt,
    LayersOpt,
    MlpOpt,
    ParamsOpt,
    PresetOpt,
    VocabOpt,
)
from advisor.errors import UsageError

H = "Hardware (left out: searched)"
W = "Workload"
S = "Search"


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def serve(
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
        typer.Option(help="Device profile from 'advisor calibrate'.", rich_help_panel=H),
    ] = None,
    pricing: Annotated[
        str, typer.Option(help="on-demand, spot or reserved.", rich_help_panel=H)
    ] = "on-demand",
    tp: Annotated[int | None, typer.Option(help="Tensor parallel.", rich_help_panel=H)] = None,
    pp: Annotated[int, typer.Option(help="Pipeline stages.", rich_help_panel=H)] = 1,
    ep: Annotated[int, typer.Option(help="Expert parallel (MoE).", rich_help_panel=H)] = 1,
    precision: Annotated[
        str | None,
        typer.Option(help="Weights: bf16, fp16, fp8, int8, fp4, int4.", rich_help_panel=H),
    ] = None,
    kv_precision: Annotated[
        str | None,
        typer.Option(help="KV cache: bf16, fp16, fp8, int8, fp4.", rich_help_panel=H),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="vllm, trtllm or sglang (also gpt-fast, eager).", rich_help_panel=H)
    ] = "vllm",
    input_len: Annotated[int, typer.Option(help="Prompt tokens.", rich_help_panel=W)] = 1024,
    output_len: Annotated[int, typer.Option(help="Generated tokens.", rich_help_panel=W)] = 256,
    concurrency: Annotated[
        str | None, typer.Option(help="Requests in flight.", rich_help_panel=W)
    ] = None,
    rate: Annotated[
        str | None, typer.Option(help="Requests per second.", rich_help_panel=W)
    ] = None,
    ttft_slo: Annotated[
        str | None, typer.Option(help="Time-to-first-token limit, e.g. 500ms.", rich_help_panel=S)
    ] = None,
    tpot_slo: Annotated[
        str | None, typer.Option(help="Time-per-output-token limit, e.g. 40ms.", rich_help_panel=S)
    ] = None,
    providers: Annotated[
        list[str] | None, typer.Option(help="Only these providers.", rich_help_panel=S)
    ] = None,
    accelerators: Annotated[
        list[str] | None, typer.Option(help="Only these accelerators.", rich_help_panel=S)
    ] = None,
    max_devices: Annotated[
        int, typer.Option(min=1, help="Most devices per option.", rich_help_panel=S)
    ] = 8,
    top: Annotated[int, typer.Option(min=1, help="Options shown.", rich_help_panel=S)] = 10,
    csv: Annotated[bool, typer.Option("--csv", help="Ranked options as CSV.")] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Also write the ranked options as a report (.html or .md).", rich_help_panel=S
        ),
    ] = None,
    catalog: CatalogOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Serve a model: memory per device, the largest batch, TTFT and TPOT at the load,
    tokens per second and cost per million tokens; with SLOs, rank what meets them."""
    from advisor.model.select import resolve_model
    from advisor.serve.request import build_request

    spec = resolve_model(
        params, model, hf_config, layers, hidden, heads, kv_heads, ffn_hidden, mlp, vocab,
        None, head_dim,
    )  # fmt: skip
    cat = catalog_from(catalog)
    req = build_request(
        cat,
        spec,
        accelerator=accelerator,
        count=count,
        offering=offering,
        nodes=nodes,
        profile=profile,
        pricing=pricing,
        tp=tp,
        pp=pp,
        ep=ep,
        precision=precision,
        kv_precision=kv_precision,
        engine=engine,
        input_len=input_len,
        output_len=output_len,
        concurrency=concurrency,
        rate=rate,
        ttft_slo=ttft_slo,
        tpot_slo=tpot_slo,
        providers=_split(providers),
        accelerators=_split(accelerators),
        max_devices=max_devices,
        top=top,
    )
    if req.search is None:
        from advisor.serve.estimate import serve_estimate

        if report is not None or csv:
            raise UsageError(
                "--report and --csv go with a search (--ttft-slo/--tpot-slo, or no hardware)"
            )

        doc = serve_estimate(cat, spec, req.hardware, req.spec, req.pricing)
        if json_out:
            print_json(doc)
            return
        from advisor.cli.serve_output import print_one

        print_one(doc)
        return
    from advisor.serve.search import search

    result = search(cat, spec, req)
    if report is not None:
        from advisor.report.serve import write_serve_report
        from advisor.serve.accuracy import serving_document

        write_serve_report(report, result, serving_document())
    if json_out:
        print_json(result)
        return
    from advisor.cli.serve_output import print_csv, print_ranked

    if csv:
        print_csv(result)
        return
    print_ranked(result)
