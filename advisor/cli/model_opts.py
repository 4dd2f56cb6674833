"""The model options `advisor estimate` and `advisor serve` declare alike: a size, a
preset, a Hugging Face config, or the architecture field by field (advisor/model/select.py
turns them into a ModelSpec). recommend and report keep their own shorter list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

M = "Model"

ParamsOpt = Annotated[str | None, typer.Option(help="Model size, e.g. 1.3B.", rich_help_panel=M)]
PresetOpt = Annotated[
    str | None, typer.Option(help="Preset name, e.g. llama-2-7b.", rich_help_panel=M)
]
HfConfigOpt = Annotated[
    Path | None, typer.Option(help="Hugging Face config.json.", rich_help_panel=M)
]
LayersOpt = Annotated[int | None, typer.Option(min=1, rich_help_panel=M)]
HiddenOpt = Annotated[int | None, typer.Option(min=1, rich_help_panel=M)]
HeadsOpt = Annotated[int | None, typer.Option(min=1, rich_help_panel=M)]
KvHeadsOpt = Annotated[int | None, typer.Option(min=1, rich_help_panel=M)]
FfnHiddenOpt = Annotated[int | None, typer.Option(min=1, rich_help_panel=M)]
HeadDimOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Per-head width (default hidden/heads).", rich_help_panel=M),
]
MlpOpt = Annotated[str | None, typer.Option(help="gelu or swiglu.", rich_help_panel=M)]
VocabOpt = Annotated[int | None, typer.Option(min=1, rich_help_panel=M)]
