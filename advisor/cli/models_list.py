"""`advisor catalog list models`: the model presets with their shapes, context and sources."""

from __future__ import annotations

from typing import Any

from advisor.model.params import count_params
from advisor.model.presets import PresetEntry, preset_entries
from advisor.units import format_size

HEAD = ["name", "params", "layers", "hidden", "heads/kv x dim", "ffn", "vocab", "context", "source"]


def preset_doc(e: PresetEntry) -> dict[str, Any]:
    """One preset as a JSON object: the shape, computed and published counts, sources."""
    counts = count_params(e.spec)
    doc = e.spec.model_dump(mode="json", exclude_none=True, exclude={"notes"})
    doc |= {
        "params": counts.total,
        "active_params": counts.active,
        "published_params": e.published_params,
        "published_source": e.published_source,
        "aliases": list(e.aliases),
        "training_context": e.spec.seq_len,
    }
    return {k: v for k, v in doc.items() if v is not None}


def preset_row(e: PresetEntry) -> list[str]:
    s = e.spec
    counts = count_params(s)
    params = format_size(counts.total)
    if s.is_moe:
        params += f" ({format_size(counts.active)} active)"
    heads = f"{s.heads}/{s.n_kv} x {s.d_head}"
    name = s.name + (f" ({', '.join(e.aliases)})" if e.aliases else "")
    return [
        name,
        params,
        str(s.layers),
        str(s.hidden),
        heads,
        str(s.ffn),
        str(s.vocab),
        str(s.seq_len),
        s.source or "",
    ]


def models_listing() -> tuple[list[str], list[list[str]], list[dict[str, Any]]]:
    entries = preset_entries()
    return HEAD, [preset_row(e) for e in entries], [preset_doc(e) for e in entries]
