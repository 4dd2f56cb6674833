"""The schema of advisor/data/finetune_sources.yaml (how the published fine-tuning rows
are read): validated once on load, so a malformed entry is reported with the file and
the field, not met later as a KeyError."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from advisor.errors import AdvisorError, first_field_error
from advisor.model.spec import Precision, Recompute

SOURCES_FILE = Path(__file__).resolve().parent / "data" / "finetune_sources.yaml"


MemoryScope = Literal[
    "per_device",
    "average_per_device",
    "max_over_devices",
    "upper_bound",
    "lower_bound",
    "aggregate",
]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcceleratorEntry(_Entry):
    id: str | None
    why: str | None = None  # required when id is null
    note: str | None = None


class ModelEntry(_Entry):
    preset: str | None = None
    shape: dict[str, Any] | None = None
    source: str | None = None  # where a shape comes from
    assumed: str | None = None  # a named assumption in the shape
    why: str | None = None  # why neither a preset nor a shape


class DefaultOptimizer(_Entry):
    name: Literal["adamw", "sgd", "adafactor", "adam8bit"]
    why: str


class SourceEntry(_Entry):
    source: str
    framework: str
    stack: str
    memory_unit: Literal["GiB", "GB"]
    memory_scope: MemoryScope
    throughput_scope: Literal["total", "per_device"]
    pure_bf16: bool | None = None
    seq_len_longest: int | None = None
    zero: int | None = None
    optimizer: DefaultOptimizer | None = None
    note: str | None = None


class RowEntry(_Entry):
    features: list[str] = []
    seq_len_exact: bool = True
    recompute: Recompute | None = None
    precision: Precision | None = None
    tp: int | None = None
    pp: int | None = None
    cp: int | None = None
    zero: int | None = None
    doubtful_memory: str | None = None
    note: str | None = None


class FinetuneSources(_Entry):
    source: str
    as_of: date
    accelerators: dict[str, AcceleratorEntry]
    models: dict[str, ModelEntry]
    sources: dict[str, SourceEntry]
    rows: dict[str, RowEntry] = {}


def validate_sources(raw: Any, path: Path = SOURCES_FILE) -> FinetuneSources:
    """The parsed file, or an AdvisorError naming the file and the first bad field."""
    try:
        data = FinetuneSources.model_validate(raw)
    except ValidationError as e:
        raise AdvisorError(first_field_error(path, e)) from None
    for name, acc in data.accelerators.items():
        if acc.id is None and not acc.why:
            raise AdvisorError(f"{path}: accelerators.{name}: a null id needs a 'why'")
    for name, m in data.models.items():
        if not (m.preset or m.shape or m.why):
            raise AdvisorError(f"{path}: models.{name}: give a preset, a shape or a 'why'")
        if m.shape and not m.source:
            raise AdvisorError(f"{path}: models.{name}: a shape needs its 'source'")
    return data


@functools.lru_cache(maxsize=1)
def sources_data() -> dict[str, Any]:
    """finetune_sources.yaml, validated, as plain data (entries with defaults filled)."""
    raw = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    return validate_sources(raw).model_dump()
