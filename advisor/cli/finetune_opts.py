"""Fine-tuning options shared by `estimate`, `recommend` and `report`, and the dataset
given as tokens per epoch and epochs."""

from __future__ import annotations

from typing import Annotated

import typer

from advisor.errors import UsageError, unknown
from advisor.finetune.spec import METHODS, QUANTS, FinetuneSpec, make_finetune
from advisor.units import parse_size

F = "Fine-tuning"

MethodOpt = Annotated[
    str | None,
    typer.Option(
        "--method",
        help="full, lora or qlora (default: full training of every parameter).",
        rich_help_panel=F,
        show_default=False,
    ),
]
LoraRankOpt = Annotated[
    int | None,
    typer.Option(
        "--lora-rank", help="LoRA rank r (default 16).", rich_help_panel=F, show_default=False
    ),
]
LoraTargetsOpt = Annotated[
    str | None,
    typer.Option(
        "--lora-targets",
        help="Layers to adapt: a comma list of q,k,v,o,gate,up,down, or attn, mlp, all "
        "(default all).",
        rich_help_panel=F,
        show_default=False,
    ),
]
QuantOpt = Annotated[
    str | None,
    typer.Option(
        "--quant",
        help="Storage of the frozen base: none, int8, nf4 (qlora implies nf4).",
        rich_help_panel=F,
        show_default=False,
    ),
]
TokensPerEpochOpt = Annotated[
    str | None,
    typer.Option(
        "--tokens-per-epoch",
        help="Dataset size in tokens (with --epochs; --tokens is the total).",
        rich_help_panel=F,
        show_default=False,
    ),
]
EpochsOpt = Annotated[
    float | None,
    typer.Option(
        "--epochs", help="Passes over the dataset (default 1).", rich_help_panel=F, min=0.0
    ),
]


def finetune_from(
    method: str | None, lora_rank: int | None, lora_targets: str | None, quant: str | None
) -> FinetuneSpec | None:
    """The FinetuneSpec the options ask for; None when none is given (pretraining)."""
    if method is None and lora_rank is None and lora_targets is None and quant is None:
        return None
    m = (method or "full").strip().lower()
    if m not in METHODS:
        raise unknown("method", method or "", METHODS)
    q = quant.strip().lower() if quant is not None else None
    if q is not None and q not in QUANTS:
        raise unknown("quant", quant or "", QUANTS)
    if m == "full" and (lora_rank is not None or lora_targets is not None):
        flag = "--lora-rank" if lora_rank is not None else "--lora-targets"
        raise UsageError(f"{flag} describes adapters: give --method lora or qlora")
    return make_finetune(method=m, lora_rank=lora_rank, lora_targets=lora_targets, quant=q)


def tokens_total(
    tokens: str | None, tokens_per_epoch: str | None, epochs: float | None
) -> float | None:
    """Training tokens: --tokens, or --tokens-per-epoch x --epochs; both must agree."""
    total = parse_size(tokens, "--tokens", maximum=1e16) if tokens else None
    if tokens_per_epoch is None:
        if epochs is not None:
            raise UsageError("--epochs needs --tokens-per-epoch (the dataset size)")
        return total
    per = parse_size(tokens_per_epoch, "--tokens-per-epoch", maximum=1e16)
    if epochs is not None and epochs <= 0:
        raise UsageError(f"--epochs must be positive, got {epochs:g}")
    pair = per * (1.0 if epochs is None else epochs)
    if total is not None and abs(total - pair) > 1e-6 * max(total, pair):
        raise UsageError(
            f"--tokens {total:,.0f} disagrees with --tokens-per-epoch x --epochs = "
            f"{pair:,.0f}; give one or the other"
        )
    return pair


OffloadOpt = Annotated[
    str,
    typer.Option(
        "--offload",
        help="CPU offload (DeepSpeed ZeRO-Offload / FSDP): none, optimizer (optimizer states "
        "and gradients to host memory, optimizer step on the CPU) or params (parameters too).",
        rich_help_panel=F,
    ),
]
OFFLOADS = ("none", "optimizer", "params")  # kept in step with advisor.model.offload


def parse_offload(value: str) -> str:
    """--offload none|optimizer|params; the nearest name suggested otherwise."""
    v = value.strip().lower()
    if v not in OFFLOADS:
        raise unknown("offload", value, OFFLOADS)
    return v
