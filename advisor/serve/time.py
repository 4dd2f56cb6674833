"""Seconds of serving: prefill, one continuous-batching step, and the load point.

A step of continuous batching (Yu et al., Orca, OSDI 2022; Kwon et al. 2023) runs one
decode token for each of B sequences plus, in steady state, the prompt tokens of the
B/output_len requests that join per step (chunked prefill). Its time is the roofline
of the two resources, each scaled by the engine's fitted factor, plus the exposed
tensor-parallel all-reduces:

    t_step = max(a_mem * bytes / (bw * e_mem), (a_cmp * flops_dec + a_pre * flops_pre)
                 / (peak * e_mm)) + t_tp + t_0 + t_seq * B

bytes = the weights (once per step, shared by the batch) + the KV cache of the batch;
flops = 2 x matmul weights per token + attention (4 x layers x heads x head_dim x
context per token; causal prompts see half their length on average); t_0 and t_seq
the engine's host time per step and per sequence in it (scheduler, sampler: what keeps
vLLM 0.5.4 at 64 ms per token for 194 sequences of Llama 8B on an H100), fitted with
a_mem, a_cmp and a_pre (prompt FLOPs run at another
efficiency than the decode batch's) on the published rows (advisor/serve/fit.py).
Functions take numpy arrays so that the search scores many configurations at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.model.params import ParamCounts
from advisor.model.spec import ModelSpec


@dataclass(frozen=True)
class Rates:
    """Per device: achieved memory bandwidth and matmul FLOP/s, TP link, fitted factors."""

    bandwidth: Any  # bytes/s x efficiency
    flops: Any  # FLOP/s x efficiency at the compute dtype
    bus_bandwidth: Any  # bytes/s, achieved all-reduce bus bandwidth among the TP ranks
    latency: Any  # s per collective
    a_mem: Any = 1.0
    a_cmp: Any = 1.0
    step_overhead: Any = 0.0  # s per engine step (launches, synchronisation), fitted
    seq_overhead: Any = 0.0  # s per sequence per step (host-side scheduling, sampling), fitted
    a_pre: Any = 1.0  # compute factor of prompt (prefill) FLOPs


def moe_read_fraction(spec: ModelSpec, batch: Any) -> Any:
    """Share of expert weights a step reads: experts hit by at least one of `batch`
    tokens routed top_k of E uniformly, 1 - (1 - k/E)^B (dense models: 1)."""
    if not spec.is_moe:
        return np.ones_like(np.asarray(batch, dtype=float))
    b = np.maximum(np.asarray(batch, dtype=float), 1.0)
    return 1.0 - (1.0 - spec.top_k / spec.experts) ** b


def weights_read(counts: ParamCounts, spec: ModelSpec, wdev: Any, batch: Any) -> Any:
    """Weight bytes a step reads on one device; for MoE only the experts the batch hits."""
    if not spec.is_moe:
        return np.asarray(wdev) * np.ones_like(np.asarray(batch, dtype=float))
    expert_share = counts.layers * counts.experts * counts.mlp_expert / counts.total
    return np.asarray(wdev) * (1.0 - expert_share * (1.0 - moe_read_fraction(spec, batch)))


def attention_flops(spec: ModelSpec, tokens: Any, context: Any) -> Any:
    """QK^T and AV: 4 x layers x heads x head_dim FLOPs per (token, context position)."""
    return 4.0 * spec.layers * spec.heads * spec.d_head * np.asarray(tokens) * np.asarray(context)


def prefill_flops(counts: ParamCounts, spec: ModelSpec, prompt: Any) -> Any:
    """One prompt: 2 x active matmul weights per token + causal attention (half the prompt)."""
    p = np.asarray(prompt, dtype=float)
    return 2.0 * counts.matmul_active * p + attention_flops(spec, p, p / 2.0)


def tp_allreduce_time(spec: ModelSpec, tokens: Any, tp: Any, r: Rates) -> Any:
    """Two all-reduces of tokens x hidden (16-bit) per layer (Megatron TP; Shoeybi et al.
    2019, §3), bus factor 2(n-1)/n; zero for tp = 1."""
    tp = np.asarray(tp, dtype=float)
    nbytes = 2.0 * np.asarray(tokens) * spec.hidden
    bw = np.where(np.asarray(r.bus_bandwidth) > 0, r.bus_bandwidth, np.inf)
    one = r.latency + nbytes * 2.0 * (tp - 1.0) / tp / bw
    return np.where(tp > 1, 2.0 * spec.layers * one, 0.0)


@dataclass(frozen=True)
class Step:
    time: Any  # s per continuous-batching step (= time per output token)
    memory: Any  # s the memory roofline alone takes
    compute: Any  # s the compute roofline alone takes
    prefill_compute: Any  # s of the compute part spent on prompts
    comm: Any


def step_time(
    counts: ParamCounts,
    spec: ModelSpec,
    batch: Any,
    input_len: Any,
    output_len: Any,
    wdev: Any,
    kv_tok_dev: Any,
    devices: Any,
    tp: Any,
    r: Rates,
) -> Step:
    """One step at batch B: B decode tokens + B x input/output prompt tokens (steady state)."""
    b = np.asarray(batch, dtype=float)
    inp = np.asarray(input_len, dtype=float)
    out = np.asarray(output_len, dtype=float)
    ctx = inp + out / 2.0
    prompt_tokens = b * inp / out
    dec_flops = 2.0 * counts.matmul_active * b + attention_flops(spec, b, ctx)
    pre_flops = b / out * prefill_flops(counts, spec, inp)
    nbytes = weights_read(counts, spec, wdev, b) + b * ctx * kv_tok_dev
    t_mem = r.a_mem * nbytes / r.bandwidth
    t_dec = r.a_cmp * dec_flops / devices / r.flops
    t_pre = r.a_pre * pre_flops / devices / r.flops
    comm = tp_allreduce_time(spec, b + prompt_tokens, tp, r)
    t = np.maximum(t_mem, t_dec + t_pre) + comm + r.step_overhead + r.seq_overhead * b
    return Step(t, t_mem, t_dec + t_pre, t_pre, comm)


def prefill_time(
    counts: ParamCounts, spec: ModelSpec, input_len: Any, wdev: Any, devices: Any, tp: Any, r: Rates
) -> Any:
    """One prompt alone: its FLOPs or one read of the weights, whichever is slower."""
    t_mem = r.a_mem * wdev / r.bandwidth
    t_cmp = r.a_pre * prefill_flops(counts, spec, input_len) / devices / r.flops
    return np.maximum(t_mem, t_cmp) + tp_allreduce_time(spec, input_len, tp, r) + r.step_overhead


def queue_wait(rho: Any, service: Any) -> Any:
    """M/D/1 mean wait, rho/(2(1-rho)) x service (Pollaczek-Khinchine; Kleinrock 1975)."""
    rho = np.clip(np.asarray(rho, dtype=float), 0.0, 0.999)
    return rho / (2.0 * (1.0 - rho)) * service


def decode_time(
    counts: ParamCounts,
    spec: ModelSpec,
    batch: Any,
    context: Any,
    wdev: Any,
    kv_tok_dev: Any,
    devices: Any,
    r: Rates,
) -> Any:
    """One decode step of `batch` sequences at a fixed `context` (no prompts beside it):
    what `advisor bench`'s decode benchmark times."""
    b = np.asarray(batch, dtype=float)
    nbytes = weights_read(counts, spec, wdev, b) + b * np.asarray(context) * kv_tok_dev
    flops = 2.0 * counts.matmul_active * b + attention_flops(spec, b, context)
    t = np.maximum(r.a_mem * nbytes / r.bandwidth, r.a_cmp * flops / devices / r.flops)
    return t + r.step_overhead + r.seq_overhead * b
