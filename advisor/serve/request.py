"""The `advisor serve` request: the serving spec, and either one piece of hardware to
score or what to search (offerings, devices, tp, precision) under which SLOs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from advisor.catalog import Catalog
from advisor.catalog.loader import read_profile
from advisor.cost import PRICINGS
from advisor.errors import UsageError, one_of
from advisor.hardware import Hardware, hardware_from_flags
from advisor.model.spec import ModelSpec
from advisor.serve.engines import find_engine
from advisor.serve.spec import (
    KV_PRECISIONS,
    WEIGHT_PRECISIONS,
    ServeSpec,
    parse_latency,
    serve_spec,
)
from advisor.units import parse_size


@dataclass(frozen=True)
class Search:
    ttft_slo: float | None  # s
    tpot_slo: float | None  # s
    providers: list[str] | None
    accelerators: list[str] | None
    max_devices: int
    precisions: tuple[str, ...]  # weights formats to try
    tps: tuple[int, ...] | None  # None: every degree that divides
    top: int


@dataclass(frozen=True)
class Request:
    spec: ServeSpec
    pricing: str
    hardware: Hardware | None
    search: Search | None


def _load(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    return parse_size(text, what, maximum=1e7)


def default_tp(spec: ModelSpec, hw: Hardware) -> int:
    """Every device of a node in one TP group, at most what divides the heads."""
    fits = [
        t
        for t in range(min(hw.devices, hw.devices_per_node), 0, -1)
        if spec.heads % t == 0 and hw.devices % t == 0
    ]
    return fits[0] if fits else 1


def build_request(
    cat: Catalog,
    model: ModelSpec,
    *,
    accelerator: str | None,
    count: str | None,
    offering: str | None,
    nodes: str | None,
    profile: Path | None,
    pricing: str,
    tp: int | None,
    pp: int,
    ep: int,
    precision: str | None,
    kv_precision: str | None,
    engine: str,
    input_len: int,
    output_len: int,
    concurrency: str | None,
    rate: str | None,
    ttft_slo: str | None,
    tpot_slo: str | None,
    providers: list[str] | None,
    accelerators: list[str] | None,
    max_devices: int,
    top: int,
) -> Request:
    eng = find_engine(engine)
    pr = one_of(pricing, "pricing", PRICINGS) or "on-demand"
    weights = one_of(precision, "precision", WEIGHT_PRECISIONS)
    kv = one_of(kv_precision, "KV precision", KV_PRECISIONS)
    ttft = parse_latency(ttft_slo, "--ttft-slo") if ttft_slo is not None else None
    tpot = parse_latency(tpot_slo, "--tpot-slo") if tpot_slo is not None else None
    for flag, v in (("--tp", tp), ("--pp", pp), ("--ep", ep)):
        if v is not None and v < 1:
            raise UsageError(f"{flag}: '{v}' must be at least 1")
    s = serve_spec(
        input_len=input_len,
        output_len=output_len,
        concurrency=_load(concurrency, "--concurrency"),
        rate=_load(rate, "--rate"),
        weight_precision=weights or "bf16",
        kv_precision=kv,
        tp=tp or 1,
        pp=pp,
        ep=ep,
        engine=eng.id,
    )
    hw = None
    if accelerator or offering or profile:
        prof = read_profile(profile) if profile is not None else None
        hw = hardware_from_flags(cat, accelerator, count, offering, nodes, prof)
    elif count is not None or nodes is not None:
        raise UsageError("--count goes with --accelerator and --nodes with --offering")
    searching = ttft is not None or tpot is not None or hw is None
    if not searching:
        assert hw is not None
        if tp is None:
            s = s.model_copy(update={"tp": default_tp(model, hw)})
        return Request(s, pr, hw, None)
    search = Search(
        ttft,
        tpot,
        providers,
        accelerators,
        max_devices,
        (weights,) if weights else ("bf16", "fp8", "fp4"),
        (tp,) if tp else None,
        top,
    )
    return Request(s, pr, hw, search)
