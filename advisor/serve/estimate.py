"""One serving configuration, end to end: the `advisor serve` document with ranges."""

from __future__ import annotations

import math
from typing import Any

from advisor.catalog import Catalog
from advisor.errors import UsageError
from advisor.hardware import Hardware
from advisor.model.params import count_params
from advisor.model.spec import ModelSpec
from advisor.serve.engines import Engine, find_engine
from advisor.serve.fitted import factors, ratio_range
from advisor.serve.hardware import ServeDevice, serve_device
from advisor.serve.score import Configs, Scored, score
from advisor.serve.spec import BYTES, ServeSpec
from advisor.serve.time import Rates


def check_layout(spec: ModelSpec, s: ServeSpec, devices: int, per_node: int) -> None:
    """Bad layouts as one line each: heads, devices and experts the degrees must divide."""
    if spec.heads % s.tp:
        raise UsageError(
            f"--tp {s.tp} does not divide the {spec.heads} attention heads of {spec.name}"
        )
    if s.tp > per_node:
        raise UsageError(f"--tp {s.tp} exceeds the {per_node} devices of a node")
    if devices % (s.tp * s.pp):
        raise UsageError(f"--tp {s.tp} x --pp {s.pp} does not divide the {devices} devices")
    if s.pp > spec.layers:
        raise UsageError(f"--pp {s.pp} exceeds the {spec.layers} layers of {spec.name}")
    if s.ep > 1:
        if not spec.is_moe:
            raise UsageError(f"--ep {s.ep}: {spec.name} has no experts (a dense model)")
        if s.tp % s.ep or spec.experts % s.ep:
            raise UsageError(
                f"--ep {s.ep} must divide --tp ({s.tp}) and the {spec.experts} experts"
            )


def configs(
    sd: ServeDevice, s: ServeSpec, hw: Hardware, eng: Engine, price: float | None
) -> Configs:
    f = factors(eng.id)
    rates = Rates(
        sd.bandwidth,
        sd.flops,
        sd.dev.intra_bus_bandwidth,
        sd.dev.intra_latency,
        f["a_mem"],
        f["a_cmp"],
        f.get("step_overhead_s", 0.0),
        f.get("seq_overhead_s", 0.0),
        f.get("a_pre", 1.0),
    )
    return Configs(
        BYTES[s.weight_precision],
        BYTES[s.kv],
        s.tp,
        s.pp,
        hw.devices,
        sd.device_bytes,
        sd.overhead,
        eng.kv_fraction.value,
        rates,
        f["a_ttft"],
        price if price is not None else math.nan,
    )


def run_score(spec: ModelSpec, s: ServeSpec, eng: Engine, c: Configs) -> Scored:
    return score(
        spec,
        count_params(spec),
        c,
        s.input_len,
        s.output_len,
        s.mode,
        s.concurrency if s.mode == "concurrency" else s.rate,
        seq_cap(eng),
        eng.max_batched_tokens.value,
    )


def seq_cap(eng: Engine) -> float | None:
    """Sequences per step: the engine's sourced limit, else the one fitted on its rows."""
    if eng.max_seqs:
        return eng.max_seqs.value
    return factors(eng.id).get("max_seqs")


def _f(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def ranged(value: Any, metric: str, inverse: bool = False) -> dict[str, Any]:
    """{value, range}: the value x the 10th-90th percentile of measured/predicted,
    widened to hold the value itself where the residuals all lean one way."""
    v = _f(value)
    if v is None:
        return {"value": None, "range": None}
    lo, hi = ratio_range(metric)
    lo, hi = min(lo, 1.0), max(hi, 1.0)
    if inverse:
        lo, hi = 1.0 / hi, 1.0 / lo
    return {"value": v, "range": [v * lo, v * hi]}


def serve_estimate(
    catalog: Catalog, spec: ModelSpec, hw: Hardware, s: ServeSpec, pricing: str = "on-demand"
) -> dict[str, Any]:
    eng = find_engine(s.engine)
    check_layout(spec, s, hw.devices, hw.devices_per_node)
    sd = serve_device(catalog, hw, s.weight_precision, s.kv_precision)
    s = s.model_copy(update={"kv_precision": sd.kv})
    per_node = hw.offering.price_per_hour(pricing) if hw.offering else None
    price = per_node * hw.nodes if per_node is not None else None
    sc = run_score(spec, s, eng, configs(sd, s, hw, eng, price))
    return document(spec, s, hw, eng, sd, sc, price)


def document(
    spec: ModelSpec,
    s: ServeSpec,
    hw: Hardware,
    eng: Engine,
    sd: ServeDevice,
    sc: Scored,
    price: float | None,
) -> dict[str, Any]:
    counts = count_params(spec)
    pt = sc.point
    fits = bool(sc.fits)
    held = s.input_len + s.output_len / 2
    kv_total = float(sc.kv_per_token) * held * float(sc.max_batch)
    mem = {
        "weights": float(sc.weights),
        "kv_cache_per_token": float(sc.kv_per_token),
        "kv_cache": kv_total,
        "kv_cache_budget": max(float(sc.kv_budget), 0.0),
        "activations": float(sc.activations),
        "overhead": float(sc.overhead),
    }
    mem["total"] = mem["weights"] + kv_total + mem["activations"] + mem["overhead"]
    lo_m, hi_m = ratio_range("memory")
    f = factors(eng.id)
    doc: dict[str, Any] = {
        "model": spec.name,
        "params": counts.total,
        "active_params": counts.active,
        "engine": eng.id,
        "accelerator": hw.accelerator.id,
        "devices": hw.devices,
        "offering": hw.offering.id if hw.offering else None,
        "nodes": hw.nodes,
        "layout": {"tp": s.tp, "pp": s.pp, "ep": s.ep, "replicas": int(sc.replicas)},
        "precision": {"weights": s.weight_precision, "kv_cache": s.kv, "compute": sd.compute},
        "workload": {
            "input_len": s.input_len,
            "output_len": s.output_len,
            "mode": s.mode,
            "concurrency": s.concurrency,
            "rate_per_s": s.rate,
        },
        "fits": fits,
        "memory_per_device_bytes": {
            "value": mem,
            "range": [mem["total"] * lo_m, mem["total"] * hi_m],
        },
        "max_batch": {
            "value": int(sc.max_batch),
            "range": batch_range(sc, held, mem, seq_cap(eng), lo_m, hi_m),
        },
        "batch": _f(pt.batch) if fits else None,
        "saturated": bool(pt.saturated),
        "ttft_s": ranged(pt.ttft, "ttft") if fits else ranged(math.nan, "ttft"),
        "tpot_s": ranged(pt.tpot, "tpot") if fits else ranged(math.nan, "tpot"),
        "output_tokens_per_s": ranged(sc.output_tokens_per_s, "throughput")
        if fits
        else ranged(math.nan, "throughput"),
        "tokens_per_s": ranged(sc.tokens_per_s, "throughput")
        if fits
        else ranged(math.nan, "throughput"),
        "requests_per_s": ranged(sc.requests_per_s, "throughput")
        if fits
        else ranged(math.nan, "throughput"),
        "price_per_hour_usd": price,
        "cost_per_million_output_tokens_usd": ranged(
            sc.cost_per_million_output, "throughput", inverse=True
        )
        if fits
        else ranged(math.nan, "throughput"),
        "cost_per_million_input_tokens_usd": ranged(
            sc.cost_per_million_input, "throughput", inverse=True
        )
        if fits
        else ranged(math.nan, "throughput"),
        "cost_per_million_tokens_usd": ranged(
            sc.cost_per_million_tokens, "throughput", inverse=True
        )
        if fits
        else ranged(math.nan, "throughput"),
        "breakdown_s": {
            "step_memory": _f(pt.step.memory),
            "step_compute": _f(pt.step.compute),
            "step_prefill_compute": _f(pt.step.prefill_compute),
            "step_tp_comm": _f(pt.step.comm),
        },
        "engine_factors": {
            k: f.get(k)
            for k in (
                "a_mem",
                "a_cmp",
                "a_pre",
                "step_overhead_s",
                "seq_overhead_s",
                "max_seqs",
                "a_ttft",
                "group",
            )
        },
        "assumptions": assumptions(s, eng, sd, hw),
    }
    return doc


def batch_range(
    sc: Scored, held: float, mem: dict[str, float], cap: float | None, lo: float, hi: float
) -> list[int]:
    """The largest batch if weights, activations and runtime take lo..hi x the estimate
    (the memory residuals of the published rows): the KV budget moves by the difference."""
    fixed = mem["weights"] + mem["activations"] + mem["overhead"]
    out = []
    for ratio in (max(hi, 1.0), min(lo, 1.0)):
        budget = float(sc.kv_budget) - (ratio - 1.0) * fixed
        b = max(0, int(budget // (float(sc.kv_per_token) * held)))
        out.append(min(b, int(cap)) if cap else b)
    return out


def assumptions(s: ServeSpec, eng: Engine, sd: ServeDevice, hw: Hardware) -> list[str]:
    out = list(sd.notes)
    out.append(
        f"{eng.id}: KV cache gets {eng.kv_fraction.value:g} of the memory left after weights, "
        f"activations and runtime ({eng.kv_fraction.source})"
    )
    cap = seq_cap(eng)
    if cap:
        why = eng.max_seqs.source if eng.max_seqs else "fitted on the published rows"
        out.append(f"{eng.id}: at most {cap:g} sequences per step ({why})")
    out.append("a request holds its prompt plus half its output in KV cache on average (paged)")
    if s.mode == "offline":
        out.append(
            "offline: every request queued; TTFT excludes the wait in the queue, which "
            "depends on how many requests are queued"
        )
    if s.pp > 1:
        out.append("pipeline stages run one after another per token (no interleaving)")
    if hw.offering is None:
        out.append("no offering: no price, so no cost per token (give --offering)")
    out.append("speculative decoding and prefix caching are not modelled")
    return out
