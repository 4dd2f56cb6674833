"""Rank offerings x tensor-parallel degree x precision for serving, by cost per million
output tokens among the options that meet the SLOs (or the closest when none does)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from advisor.catalog import Catalog
from advisor.catalog.schema import Offering
from advisor.errors import AdvisorError, UsageError
from advisor.hardware import Hardware, resolve_hardware
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec
from advisor.serve.engines import find_engine
from advisor.serve.estimate import check_layout, configs, seq_cap
from advisor.serve.hardware import serve_device
from advisor.serve.request import Request
from advisor.serve.score import score

CLOSEST = 3


def candidate_offerings(cat: Catalog, req: Request) -> list[tuple[Offering, float]]:
    """Single-node offerings with a price, within the filters and the device limit."""
    assert req.search is not None
    s = req.search
    provs = {p.lower() for p in s.providers} if s.providers else None
    accs = {cat.accelerator(a).id for a in s.accelerators} if s.accelerators else None
    out = []
    for off in cat.offerings.values():
        if provs is not None and off.provider.lower() not in provs:
            continue
        if accs is not None and off.accelerator not in accs:
            continue
        if off.accelerator_count > s.max_devices or off.accelerator == "cpu":
            continue
        price = off.price_per_hour(req.pricing)
        if price is None:
            continue
        out.append((off, price))
    if not out and (provs or accs):
        raise UsageError("no priced offering matches --providers/--accelerators and --max-devices")
    return out


def _hardware_list(cat: Catalog, req: Request) -> list[tuple[Hardware, float | None]]:
    if req.hardware is not None:
        hw = req.hardware
        per = hw.offering.price_per_hour(req.pricing) if hw.offering else None
        return [(hw, per * hw.nodes if per is not None else None)]
    out = []
    for off, price in candidate_offerings(cat, req):
        try:
            out.append((resolve_hardware(cat, None, None, off.id, 1), price))
        except AdvisorError:
            continue
    return out


def search(cat: Catalog, spec: ModelSpec, req: Request) -> dict[str, Any]:
    assert req.search is not None
    s = req.search
    eng = find_engine(req.spec.engine)
    counts = count_params(spec)
    options: list[dict[str, Any]] = []
    left_out: dict[str, int] = {}
    for hw, price in _hardware_list(cat, req):
        tps = s.tps or tuple(t for t in range(1, hw.devices_per_node + 1) if hw.devices % t == 0)
        peaks = hw.accelerator.peak_tflops
        for prec in s.precisions:
            if prec == "bf16" and "bf16" not in peaks and "fp16" in peaks:
                prec = "fp16"  # V100, T4: the 16-bit float they have
            try:
                sd = serve_device(cat, hw, prec, req.spec.kv_precision)
                kv = sd.kv
            except AdvisorError as e:
                key = str(e).split(":")[0] if ":" in str(e) else str(e)
                left_out[f"{prec}: {key}"] = left_out.get(f"{prec}: {key}", 0) + 1
                continue
            for t in tps:
                sp = req.spec.model_copy(
                    update={"tp": t, "weight_precision": prec, "kv_precision": kv}
                )
                try:
                    check_layout(spec, sp, hw.devices, hw.devices_per_node)
                except UsageError:
                    continue
                c = configs(sd, sp, hw, eng, price)
                sc = score(
                    spec,
                    counts,
                    c,
                    sp.input_len,
                    sp.output_len,
                    sp.mode,
                    sp.concurrency if sp.mode == "concurrency" else sp.rate,
                    seq_cap(eng),
                    eng.max_batched_tokens.value,
                )
                if not bool(sc.fits):
                    left_out["does not fit in memory"] = (
                        left_out.get("does not fit in memory", 0) + 1
                    )
                    continue
                options.append(_option(hw, price, sp, sc))
    return rank(options, req, left_out, spec)


def _v(x: Any) -> float | None:
    v = float(np.asarray(x))
    return v if math.isfinite(v) else None


def _option(hw: Hardware, price: float | None, sp: Any, sc: Any) -> dict[str, Any]:
    pt = sc.point
    return {
        "offering": hw.offering.id if hw.offering else None,
        "provider": hw.offering.provider if hw.offering else None,
        "accelerator": hw.accelerator.id,
        "devices": hw.devices,
        "nodes": hw.nodes,
        "tp": sp.tp,
        "replicas": int(sc.replicas),
        "weights": sp.weight_precision,
        "kv_cache": sp.kv,
        "max_batch": int(sc.max_batch),
        "batch": float(pt.batch),
        "saturated": bool(pt.saturated),
        "ttft_s": _v(pt.ttft),
        "tpot_s": _v(pt.tpot),
        "output_tokens_per_s": float(sc.output_tokens_per_s),
        "price_per_hour_usd": price,
        "cost_per_million_output_tokens_usd": _v(sc.cost_per_million_output),
        "cost_per_million_input_tokens_usd": _v(sc.cost_per_million_input),
    }


def _cost(o: dict[str, Any]) -> float:
    c = o["cost_per_million_output_tokens_usd"]
    return math.inf if c is None else c


def slo_excess(o: dict[str, Any], ttft: float | None, tpot: float | None) -> float:
    """How far the worse latency is over its SLO, as a ratio (<= 1: met)."""
    worst = 0.0
    for val, lim in ((o["ttft_s"], ttft), (o["tpot_s"], tpot)):
        if lim is None:
            continue
        worst = max(worst, math.inf if val is None else val / lim)
    return worst


def rank(
    options: list[dict[str, Any]], req: Request, left_out: dict[str, int], spec: ModelSpec
) -> dict[str, Any]:
    assert req.search is not None
    s = req.search
    for o in options:
        ratio = slo_excess(o, s.ttft_slo, s.tpot_slo)
        o["slo_ratio"] = ratio if math.isfinite(ratio) else None
        o["meets_slo"] = (not o["saturated"]) and ratio <= 1.0
    good = sorted(
        (o for o in options if o["meets_slo"]),
        key=lambda o: (_cost(o), -o["output_tokens_per_s"]),
    )
    for i, o in enumerate(good, 1):
        o["rank"] = i
    closest = sorted(
        (o for o in options if not o["meets_slo"]),
        key=lambda o: (o["saturated"], o["slo_ratio"] or math.inf, _cost(o)),
    )[:CLOSEST]
    sp = req.spec
    notes = [
        f"{sp.engine} efficiencies fitted on published serving rows (advisor accuracy)",
        "one node per option; tensor parallel inside it, the rest as replicas",
    ]
    notes += [f"left out {n}: {why}" for why, n in sorted(left_out.items())]
    return {
        "query": {
            "model": spec.name,
            "engine": sp.engine,
            "input_len": sp.input_len,
            "output_len": sp.output_len,
            "mode": sp.mode,
            "rate_per_s": sp.rate,
            "concurrency": sp.concurrency,
            "ttft_slo_s": s.ttft_slo,
            "tpot_slo_s": s.tpot_slo,
            "pricing": req.pricing,
        },
        "scored": len(options),
        "meeting_slo": len(good),
        "options": good[: s.top],
        "closest": closest if not good else [],
        "notes": notes,
    }
