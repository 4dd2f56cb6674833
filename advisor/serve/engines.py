"""Serving engines as data (advisor/data/serving_engines.yaml), validated with pydantic."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field, ValidationError

from advisor.catalog.loader import describe_validation_error, read_yaml
from advisor.catalog.schema import Figure, Strict
from advisor.errors import DataError, unknown

ENGINE_FILE = Path(__file__).resolve().parent.parent / "data" / "serving_engines.yaml"


class Engine(Strict):
    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    row_engines: list[str] = Field(default_factory=list)  # how the published rows name it
    kv_fraction: Figure
    max_seqs: Figure | None = None
    max_batched_tokens: Figure


class EngineFile(Strict):
    schema_version: int
    engines: list[Engine]


@functools.lru_cache(maxsize=4)
def load_engines(path: Path = ENGINE_FILE) -> dict[str, Engine]:
    raw = read_yaml(path)
    try:
        doc = EngineFile.model_validate(raw)
    except ValidationError as e:
        raise DataError(describe_validation_error(path, e, raw)) from None
    return {e.id: e for e in doc.engines}


def find_engine(name: str) -> Engine:
    table = load_engines()
    key = name.strip().lower()
    for e in table.values():
        if key == e.id or key in (a.lower() for a in e.aliases):
            return e
    raise unknown("engine", name, list(table))


def engine_for_row(text: str) -> Engine | None:
    """The engine a published row names ('TensorRT-LLM 0.17', 'vLLM v0.5.4', ...)."""
    for e in load_engines().values():
        if any(text.strip().lower().startswith(r.lower()) for r in e.row_engines):
            return e
    return None
