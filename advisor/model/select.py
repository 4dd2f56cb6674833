"""One ModelSpec from whichever way the user named a model."""

from __future__ import annotations

from pathlib import Path

from advisor.errors import UsageError, unknown
from advisor.model.hf_config import from_hf_config
from advisor.model.presets import from_params, preset
from advisor.model.spec import ModelSpec
from advisor.units import parse_size

MLPS = ("gelu", "swiglu")


def resolve_model(
    params: str | None = None,
    model: str | None = None,
    hf_config: Path | None = None,
    layers: int | None = None,
    hidden: int | None = None,
    heads: int | None = None,
    kv_heads: int | None = None,
    ffn_hidden: int | None = None,
    mlp: str | None = None,
    vocab: int | None = None,
    seq_len: int | None = None,
    head_dim: int | None = None,
) -> ModelSpec:
    """Exactly one of: --params, --model, --hf-config, or explicit shape flags."""
    shape = {"layers": layers, "hidden": hidden, "heads": heads, "vocab": vocab}
    extra_shape = {"kv_heads": kv_heads, "ffn_hidden": ffn_hidden, "mlp": mlp, "head_dim": head_dim}
    ways = [
        name
        for name, given in (
            ("--params", params is not None),
            ("--model", model is not None),
            ("--hf-config", hf_config is not None),
            ("shape flags", any(v is not None for v in shape.values())),
        )
        if given
    ]
    if not ways:
        raise UsageError(
            "name a model: --params 1.3B, --model PRESET, --hf-config config.json, "
            "or --layers --hidden --heads --vocab"
        )
    if len(ways) > 1:
        raise UsageError(f"give one way to name the model, not {' and '.join(ways)}")
    if any(v is not None for v in extra_shape.values()) and ways[0] != "shape flags":
        raise UsageError(
            "--kv-heads, --ffn-hidden, --mlp and --head-dim go with explicit shape flags"
        )
    if mlp is not None and mlp not in MLPS:
        raise unknown("mlp kind", mlp, MLPS)
    if params is not None:
        return from_params(parse_size(params, "--params", maximum=1e14), seq_len)
    if model is not None:
        return preset(model, seq_len)
    if hf_config is not None:
        return from_hf_config(hf_config, seq_len)
    missing = [f"--{k.replace('_', '-')}" for k, v in shape.items() if v is None]
    if missing:
        raise UsageError(f"explicit shape needs {', '.join(missing)} as well")
    try:
        return ModelSpec(
            name="custom",
            layers=layers,  # type: ignore[arg-type]
            hidden=hidden,  # type: ignore[arg-type]
            heads=heads,  # type: ignore[arg-type]
            kv_heads=kv_heads,
            head_dim=head_dim,
            ffn_hidden=ffn_hidden,
            mlp=mlp or "gelu",  # type: ignore[arg-type]
            vocab=vocab,  # type: ignore[arg-type]
            seq_len=seq_len or 2048,
        )
    except ValueError as e:
        from pydantic import ValidationError

        if isinstance(e, ValidationError):
            first = e.errors()[0]
            where = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "shape"
            raise UsageError(f"{where}: {first['msg']}") from e
        raise UsageError(str(e)) from e
