"""Options and helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from advisor.catalog import Catalog, load_catalog
from advisor.layout import DEFAULT_MEMORY_HEADROOM

CatalogOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog",
        help="Extra catalog YAML (file or folder), repeatable; overrides entries by id.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
MemoryHeadroomOpt = Annotated[
    float,
    typer.Option(
        "--memory-headroom",
        min=0.0,
        max=0.9,
        help="Fraction of device memory a chosen layout leaves free, for allocator "
        "fragmentation and the memory estimate's error.",
    ),
]
MEMORY_HEADROOM = DEFAULT_MEMORY_HEADROOM
StackOpt = Annotated[
    str,
    typer.Option(
        "--stack",
        help="Training software: auto, megatron, torchtitan, fsdp, deepspeed, maxtext "
        "(its kernels and overlap conventions; 'advisor catalog list stacks').",
    ),
]
FlashAttentionOpt = Annotated[
    bool | None,
    typer.Option(
        "--flash-attention/--no-flash-attention",
        help="Override the stack: fused (flash) attention or not.",
        show_default=False,
    ),
]
DpOverlapOpt = Annotated[
    bool | None,
    typer.Option(
        "--dp-overlap/--no-dp-overlap",
        help="Override the stack: data-parallel communication overlaps backward or not.",
        show_default=False,
    ),
]


def catalog_from(paths: list[Path] | None) -> Catalog:
    return load_catalog(list(paths or []))


def print_json(data: Any) -> None:
    """One JSON document on stdout; pydantic models are dumped in JSON mode."""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json", exclude_none=True)
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal ('-' when there is none)."""
    return "-" if x is None else f"{x:.1%}"


def console() -> Any:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # `advisor ... | head` closed the pipe: stop quietly and successfully.
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(0)

    # Piped output is read by scripts and wide tables; do not wrap it at 80 columns.
    width = None if sys.stdout.isatty() else 200
    return _Console(highlight=False, soft_wrap=False, width=width)
