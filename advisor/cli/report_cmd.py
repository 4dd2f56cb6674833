"""`advisor report`: a recommendation as one self-contained HTML file (or Markdown, JSON).

Takes the options of `advisor recommend` (parsed by the same function) plus `--out`
and `--format`. The default file is `reports/<model>[-<budget>].<ext>` under the
current folder (`reports/` is made when missing, only for this default); a path
given with `--out` must be in an existing folder. `--out -` prints to stdout. The
file is written atomically: a failure leaves nothing behind.

matplotlib and Jinja2 are imported only here, inside the command.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.common import (
    MEMORY_HEADROOM,
    CatalogOpt,
    DpOverlapOpt,
    FlashAttentionOpt,
    MemoryHeadroomOpt,
    StackOpt,
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
)
from advisor.cli.goodput_opts import (
    AsyncCheckpointOpt,
    CheckpointIntervalOpt,
    CheckpointStorageOpt,
    EvalFractionOpt,
    GoodputOpt,
    NodeMtbfOpt,
    SpotInterruptionsOpt,
)
from advisor.cli.recommend_cmd import MAX_DAYS_HELP, request_from_options
from advisor.errors import UsageError

FORMATS = ("html", "md", "json")
DEFAULT_FOLDER = Path("reports")


def default_name(model: str, budget: float | None, fmt: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", model.lower()).strip("-.") or "model"
    slug = slug[:60]
    if budget is not None:
        slug += f"-{budget:.0f}usd"
    return f"{slug}.{fmt}"


def report(
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
    top: Annotated[int, typer.Option(min=1, max=1000, help="Options in the table.")] = 10,
    precision: Annotated[str, typer.Option(help="fp32, fp16, bf16, fp8, fp4.")] = "bf16",
    global_batch_tokens: Annotated[str | None, typer.Option(help="Tokens per step.")] = None,
    profile: Annotated[
        Path | None,
        typer.Option(help="Device profile from 'advisor calibrate' (adds a calibration section)."),
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
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "-o",
            help="File to write ('-' for stdout); default reports/<model>-<budget>.<format>.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, md or json.")] = "html",
    catalog: CatalogOpt = None,
    emit: EmitOpt = None,
) -> None:
    """Write a shareable report of a recommendation: the answer, plots, sources."""
    f = fmt.strip().lower()
    if f not in FORMATS:
        from advisor.errors import unknown

        raise unknown("format", fmt, FORMATS)
    from advisor.report.render import check_destination

    check_emit(emit)
    target: Path | None = None
    if out is not None and out != "-":
        target = check_destination(Path(out))
    req = request_from_options(locals())
    make_folder = False
    if out is None:
        if DEFAULT_FOLDER.exists() and not DEFAULT_FOLDER.is_dir():
            raise UsageError(f"{DEFAULT_FOLDER} is not a folder; give --out FILE")
        make_folder = not DEFAULT_FOLDER.exists()
        target = DEFAULT_FOLDER / default_name(req.spec.name, req.kwargs["budget"], f)
        if not make_folder:
            check_destination(target)

    from advisor.report.build import build_report
    from advisor.report.render import render, write_atomic

    data = build_report(
        req.spec,
        req.training,
        req.catalog,
        profile_file=profile.name if profile is not None else None,
        **req.kwargs,
    )
    text = render(data, f)
    if target is None:
        sys.stdout.write(text)
        if emit is not None:
            emit_top(data, req, emit)
        return
    if make_folder:
        try:
            DEFAULT_FOLDER.mkdir()
        except OSError as e:
            raise UsageError(
                f"cannot make folder {DEFAULT_FOLDER}: {e.strerror}; give --out FILE"
            ) from e
    write_atomic(target, text)
    if emit is not None:
        emit_top(data, req, emit)
    best = data.options[0] if data.options and not data.options_over_limits else None
    summary = (
        f"#1 {best.offering} x{best.nodes}" if best is not None else "no option within the limits"
    )
    sys.stderr.write(f"advisor: wrote {target} ({len(text.encode('utf-8')):,} bytes; {summary})\n")
